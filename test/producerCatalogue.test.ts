import { Validator } from '@seriousme/openapi-schema-validator';
import { errorBodySchema, jobResponseSchema, searchResultSchema } from '@taskpool/producer';
import { describe, expect, it } from 'vitest';
import { useProducerStack } from './helpers/producerStack.ts';

const stack = useProducerStack();

describe('GET /v1/tasks', () => {
  it("lists every task of the module with its queue, defaults and the JSON Schemas of its zod input and output", async () => {
    const res = await stack.request({ method: 'GET', url: '/v1/tasks' });
    expect(res.statusCode).toBe(200);
    const { tasks } = res.json<{ tasks: { name: string; queue: string; defaults: object; input: object; output: object }[] }>();
    expect(tasks.map((t) => t.name)).toEqual([...tasks.map((t) => t.name)].sort());
    expect(tasks.find((t) => t.name === 'test.failing')).toMatchObject({
      queue: 'default',
      defaults: { attempts: 3, backoff: { type: 'fixed', delayMs: 10 } },
      input: { type: 'object', properties: { user: { type: 'string' } }, required: ['user'] },
      output: { type: 'object', properties: { ok: { type: 'boolean' } } },
    });
    // A defaulted field is optional for the caller.
    expect(tasks.find((t) => t.name === 'test.flaky')?.input).toMatchObject({ required: ['marker'] });
  });
});

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document with one path per task, its body the task schema', async () => {
    const res = await stack.request({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    const submit = doc.paths['/v1/tasks/test.sumSqrt'].post;
    expect(submit.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/test_sumSqrt_input' });
    expect(doc.components.schemas.test_sumSqrt_input).toMatchObject({ properties: { n: { type: 'integer', exclusiveMinimum: 0 } } });
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/jobs/{id}', '/v1/jobs/{id}/retry', '/v1/jobs/{id}/cancel', '/v1/workflows', '/v1/workflows/{id}', '/v1/workflows/{id}/cancel', '/v1/objects', '/v1/objects/{id}', '/metrics', '/health']));
    expect(doc.paths['/health'].get.security).toEqual([]);
  });

  it("documents what the API really answers: real answers parse with the document's schemas", async () => {
    const notFound = await stack.request({ method: 'GET', url: '/v1/jobs/nope' });
    errorBodySchema.parse(notFound.json());
    const { id } = (await stack.post('/v1/tasks/test.sumSqrt', { n: 3 })).json<{ id: string }>();
    jobResponseSchema.strict().parse((await stack.request({ method: 'GET', url: `/v1/jobs/${id}` })).json());
    searchResultSchema.parse((await stack.request({ method: 'GET', url: '/v1/jobs?task=test.sumSqrt' })).json());
  });
});
