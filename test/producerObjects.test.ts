import { randomBytes } from 'node:crypto';
import type { Ref } from '@taskpool/core';
import { describe, expect, it } from 'vitest';
import { useProducerStack } from './helpers/producerStack.ts';
import { countKeys, redisUrl } from './helpers/testRedis.ts';

// Over the producer's 1 MiB JSON body limit: an upload is streamed, and only the objects cap applies.
const MAX = 2 * 1024 * 1024;
const stack = useProducerStack({ objects: { maxBytes: MAX } });
const octets = { 'content-type': 'application/octet-stream' };

describe('objects over HTTP', () => {
  it('POST /v1/objects stores the body and answers a reference; GET /v1/objects/:id gives the same bytes back', async () => {
    const body = randomBytes(1_500_000);
    const created = await stack.request({ method: 'POST', url: '/v1/objects?ttlMs=60000', headers: octets, body });
    expect(created.statusCode).toBe(201);
    const { ref } = created.json<{ ref: Ref<Buffer> }>();
    expect(ref).toMatchObject({ $taskpoolObject: 1, size: body.length, kind: 'buffer', store: 'redis' });
    const read = await stack.request({ method: 'GET', url: `/v1/objects/${ref.id}` });
    expect(read.statusCode).toBe(200);
    expect(read.headers['content-type']).toBe('application/octet-stream');
    expect(read.rawPayload.equals(body)).toBe(true);
    // The reference is the client's own: any client of the deployment reads it.
    expect((await stack.client.get(ref)).equals(body)).toBe(true);

    // The overview counts it (what the dashboard shows and `taskpool stats` prints); a delete uncounts it.
    const usage = async (): Promise<{ objects: number; bytes: number }> => (await stack.request({ method: 'GET', url: '/v1/stats' })).json<{ objects: { redis: { objects: number; bytes: number } } }>().objects.redis;
    const before = await usage();
    expect(before.objects).toBeGreaterThanOrEqual(1);
    expect(before.bytes).toBeGreaterThanOrEqual(body.length);
    const fragment = await stack.request({ method: 'GET', url: '/dashboard/fragments/overview' });
    expect(fragment.body).toContain(`data-objects-redis="${before.objects}"`);
    expect(await stack.client.delete(ref)).toBe(true);
    expect(await usage()).toEqual({ objects: before.objects - 1, bytes: before.bytes - body.length });
  });

  it('refuses a body over the cap with 413 and keeps nothing, and answers 404 OBJECT_NOT_FOUND and 400 as it should', async () => {
    const keys = await countKeys(redisUrl(), stack.prefix);
    const tooBig = await stack.request({ method: 'POST', url: '/v1/objects', headers: octets, body: Buffer.alloc(MAX + 1) });
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(await countKeys(redisUrl(), stack.prefix)).toBe(keys);

    const missing = await stack.request({ method: 'GET', url: '/v1/objects/no-such-object' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'OBJECT_NOT_FOUND' } });
    const notAnId = await stack.request({ method: 'GET', url: `/v1/objects/${encodeURIComponent('../x')}` });
    expect(notAnId.statusCode).toBe(400);
    const badTtl = await stack.request({ method: 'POST', url: '/v1/objects?ttlMs=-1', headers: octets, body: Buffer.alloc(1) });
    expect(badTtl.statusCode).toBe(400);
  });
});
