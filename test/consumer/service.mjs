// service.mjs: a plain ESM service that uses taskpool: submit one task, map over many inputs, run a workflow.
// Run a worker first: `REDIS_URL=... npx taskpool-worker --tasks tasks.js`.
import { chord, createClient, group } from '@taskpool/core';
import { square, sumSqrt, total } from './tasks.js';

const client = createClient({
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: process.env.TASKPOOL_PREFIX, // optional: the workers' key prefix (default `taskpool`)
});
try {
  // One task: a handle now, its parsed output later.
  const handle = await client.submit(sumSqrt, { n: 1_000_000 });
  const one = await handle.result({ timeoutMs: 20_000 });

  // Many inputs, outputs in input order.
  const squares = await client.map(square, [1, 2, 3, 4, 5].map((n) => ({ n }))).toArray();

  // Fan out, then fan in: total gets the squares in order.
  const workflow = await client.run(chord(group([1, 2, 3].map((n) => square.with({ n }))), total));
  const sumOfSquares = await workflow.result({ timeoutMs: 20_000 });

  // No types stop a bad input in JavaScript: the client rejects it (ValidationError) before it reaches Redis.
  const refused = await client.submit(sumSqrt, { n: 'x' }).then(() => 'accepted', (error) => error.code);

  console.log(JSON.stringify({ one, squares, sumOfSquares, refused }));
} finally {
  await client.close();
}
