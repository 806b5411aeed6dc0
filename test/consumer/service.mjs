// service.mjs: submit one task, map over many inputs, run a workflow
import { chord, createClient, group } from '@taskpool/core';
import { square, sumSqrt, total } from './tasks.js';

const client = createClient({
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: process.env.TASKPOOL_PREFIX, // the workers' key prefix; default 'taskpool'
});
try {
  const handle = await client.submit(sumSqrt, { n: 1_000_000 });
  const one = await handle.result({ timeoutMs: 20_000 }); // { sum: 666666166.45..., pid, node }
  const squares = await client.map(square, [1, 2, 3, 4, 5].map((n) => ({ n }))).toArray(); // [1, 4, 9, 16, 25]
  const workflow = await client.run(chord(group([1, 2, 3].map((n) => square.with({ n }))), total));
  const sumOfSquares = await workflow.result({ timeoutMs: 20_000 }); // 14
  // No types stop a bad input in JavaScript: the client rejects it before it reaches Redis.
  const refused = await client.submit(sumSqrt, { n: 'x' }).then(() => 'accepted', (error) => error.code); // 'INVALID_INPUT'
  console.log(JSON.stringify({ one, squares, sumOfSquares, refused }));
} finally {
  await client.close();
}
