import { z } from 'zod';
import type { Ref } from './objectRef.ts';

const refShape = z
  .object({
    $taskpoolObject: z.literal(1),
    id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
    size: z.number().int().min(0),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    kind: z.string(),
    store: z.string(),
  })
  .meta({ description: 'A reference to an object (client.put, POST /v1/objects): the handler reads it with ctx.get' });

/**
 * The schema of an input or output field that holds a reference to an object of type `T` (from `client.put`,
 * `POST /v1/objects`): `input: z.object({ data: objectRef<Buffer>() })`, then `await ctx.get(input.data)` in the
 * handler. Only a field the task's contract declares so is ever read as a reference. Its JSON Schema is the
 * reference's shape, so the catalogue and `/openapi.json` show it.
 */
export function objectRef<T = unknown>(): z.ZodType<Ref<T>, Ref<T>> {
  return refShape as unknown as z.ZodType<Ref<T>, Ref<T>>;
}
