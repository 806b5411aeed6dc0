/**
 * Run as its own process: `node --import tsx test/helpers/cancelFromAnotherProcess.ts <redisUrl> <prefix> <jobId>`.
 * Cancels a job of `crash.spin` through a client of its own and prints the outcome.
 */
import { createClient } from '@taskpool/core';
import { spin } from '../fixtures/crashTasks.ts';

const [redisUrl, prefix, jobId] = process.argv.slice(2);
if (!redisUrl || !prefix || !jobId) throw new Error('usage: cancelFromAnotherProcess <redisUrl> <prefix> <jobId>');
const client = createClient({ redisUrl, prefix });
const outcome = await client.handle(spin, jobId).cancel();
console.log(JSON.stringify({ outcome, pid: process.pid }));
await client.close();
