// anywhere.ts
import { createClient } from '@taskpool/core';
import { sumSqrt } from './tasks.ts';

const client = createClient({ redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: process.env.TASKPOOL_PREFIX });
const handle = await client.submit(sumSqrt, { n: 1e6 }); // { n: 'x' } does not compile
const output: { sum: number; pid: number } = await handle.result({ timeoutMs: 20_000 });
console.log(JSON.stringify(output));
await client.close();
