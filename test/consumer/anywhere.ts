// anywhere.ts: submit, get a future, await the parsed output. Node >= 22.18 runs it as it is: `node anywhere.ts`.
import { createClient } from '@taskpool/core';
import { sumSqrt } from './tasks.ts';

const client = createClient({ redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: process.env.TASKPOOL_PREFIX });
const handle = await client.submit(sumSqrt, { n: 1e6 });
const output: { sum: number; pid: number } = await handle.result({ timeoutMs: 20_000 });
console.log(JSON.stringify(output)); // {"sum":666666166.45...,"pid":4242}
await client.close();
