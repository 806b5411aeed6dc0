import { z } from 'zod';
import { parseRequest } from './parseRequest.ts';

/** `Idempotency-Key`: printable ASCII, 1-255 characters (the IETF draft's and Stripe's limits). */
const idempotencyKeySchema = z.string().regex(/^[\x20-\x7e]{1,255}$/, 'printable ASCII, 1 to 255 characters');

/** The `Idempotency-Key` header of a submit (`POST /v1/tasks/:name[/batch]`, `POST /v1/workflows`), checked; 400 `BAD_REQUEST` if malformed. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  return parseRequest(idempotencyKeySchema, Array.isArray(header) ? header.join(',') : header, 'Idempotency-Key header');
}
