import { submitOptionsSchema, workflowSpecSchema, type AnyTask } from '@taskpool/core';
import type { z } from 'zod';
import * as api from './apiSchemas.ts';
import { MAX_BATCH_SIZE } from './routes/taskRoutes.ts';
import { taskCatalogue, toJsonSchema, type JsonSchema } from './taskCatalogue.ts';

type Operation = Record<string, unknown>;

/**
 * The OpenAPI 3.1 document of this producer, built from the task module (one path per task, its request
 * and result bodies from the task's zod schemas) and from `apiSchemas.ts`. Hand-assembled rather than
 * collected by @fastify/swagger: that plugin documents Fastify route schemas, which would mean one generic
 * `/v1/tasks/{name}` path (the body depends on the task) and a second validator (ajv) beside zod.
 */
export function openApiDocument(tasks: ReadonlyMap<string, AnyTask>): Record<string, unknown> {
  const schemas: Record<string, JsonSchema> = {};
  const add = (name: string, schema: JsonSchema) => embed(schemas, name, schema);
  add('Error', json(api.errorBodySchema));
  add('Job', json(api.jobResponseSchema));
  add('SearchResult', json(api.searchResultSchema));
  add('Submitted', json(api.submittedSchema));
  add('BatchSubmitted', json(api.batchSubmittedSchema));
  add('CancelOutcome', json(api.cancelOutcomeSchema));
  add('WorkflowSpec', toJsonSchema(workflowSpecSchema, 'input'));
  add('Workflow', json(api.workflowResponseSchema));
  add('ObjectCreated', json(api.objectCreatedSchema));
  const paths: Record<string, Record<string, Operation>> = {
    '/v1/tasks': { get: op('List the tasks: name, queue, defaults, JSON Schemas of input and output', ok('The catalogue', { type: 'object' })) },
    '/v1/jobs': { get: { ...op('Search jobs by id, task, state or error text', ok('Matching jobs, newest first', ref('SearchResult'))), parameters: searchParameters() } },
    '/v1/jobs/{id}': {
      get: {
        ...op('Read a job; with waitMs, wait until it has finished (capped)', ok('The job', ref('Job')), notFound()),
        parameters: [idParameter(), { name: 'waitMs', in: 'query', schema: { type: 'integer', minimum: 0 } }],
      },
    },
    '/v1/jobs/{id}/retry': { post: { ...op('Retry a failed job', ok('The job, back to waiting', ref('Job')), notFound(), conflict()), parameters: [idParameter()] } },
    '/v1/jobs/{id}/cancel': {
      post: {
        ...op('Cancel a job: remove it if it has not started, else signal its worker', ok('Removed', ref('CancelOutcome')), notFound(), conflict(), {
          202: { description: 'Signalled: the worker running it aborts it', content: jsonContent(ref('CancelOutcome')) },
        }),
        parameters: [idParameter()],
      },
    },
    '/v1/workflows': {
      post: {
        ...op(
          "Run a workflow given as JSON (task, chain, group, chord); every bound input is validated first, and a step that can never take the previous step's output (by their schemas) is refused (INVALID_WORKFLOW)",
          accepted(json(api.workflowSubmittedSchema)),
          invalid(),
          tooLarge(),
          notJson(),
          errorResponse(404, 'A step names no task (UNKNOWN_TASK)'),
          keyConflict(),
        ),
        parameters: [idempotencyKeyParameter('the first workflow')],
        requestBody: { required: true, content: jsonContent(ref('WorkflowSpec')) },
      },
    },
    '/v1/workflows/{id}': {
      get: {
        ...op("Read a workflow: its state, result or error, and every step's state; with waitMs, wait until it is done (capped)", ok('The workflow', ref('Workflow')), notFound()),
        parameters: [idParameter(), { name: 'waitMs', in: 'query', schema: { type: 'integer', minimum: 0 } }],
      },
    },
    '/v1/workflows/{id}/cancel': {
      post: { ...op('Cancel a workflow: remove the steps not started, stop the running ones', accepted(json(api.workflowCancelSchema)), notFound()), parameters: [idParameter()] },
    },
    '/v1/objects': {
      post: {
        ...op(
          'Store the body as an object (streamed, capped by TASKPOOL_MAX_OBJECT_BYTES) and get a reference to pass in task inputs instead of the data',
          { 201: { description: 'Stored', content: jsonContent(ref('ObjectCreated')) } },
          tooLarge(),
          invalid(),
        ),
        parameters: [{ name: 'ttlMs', in: 'query', required: false, description: 'The object goes after this long; default: until deleted', schema: { type: 'integer', minimum: 1 } }],
        requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
      },
    },
    '/v1/objects/{id}': {
      get: {
        ...op('Read an object\'s bytes, checked against their SHA-256', { 200: { description: 'The bytes', content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } } }, errorResponse(404, 'No such object (OBJECT_NOT_FOUND)')),
        parameters: [idParameter()],
      },
    },
    '/v1/workers': { get: op('The live workers (fresh heartbeat)', ok('Workers', { type: 'object' })) },
    '/v1/stats': { get: op('Counts per queue and task, last hour per task, workers', ok('The overview', { type: 'object' })) },
    '/metrics': { get: op('Prometheus metrics', { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } }) },
    '/health': { get: { summary: '200 while Redis answers, else 503 (no token needed)', responses: ok('Healthy', { type: 'object' }), security: [] } },
  };
  for (const entry of taskCatalogue(tasks)) {
    const id = entry.name.replace(/[^A-Za-z0-9]+/g, '_');
    add(`${id}_input`, entry.input);
    add(`${id}_output`, entry.output);
    const tag = { tags: [entry.name] };
    const options = submitOptionParameters();
    paths[`/v1/tasks/${entry.name}`] = {
      post: {
        ...tag,
        ...op(`Submit ${entry.name} (queue ${entry.queue}); the job's result follows ${id}_output`, accepted(ref('Submitted')), invalid(), tooLarge(), notJson(), keyConflict()),
        parameters: [idempotencyKeyParameter('the first job'), ...options],
        requestBody: { required: true, content: jsonContent(ref(`${id}_input`)) },
      },
    };
    paths[`/v1/tasks/${entry.name}/batch`] = {
      post: {
        ...tag,
        ...op(`Submit up to ${MAX_BATCH_SIZE} inputs of ${entry.name} at once; any invalid input refuses the batch`, accepted(ref('BatchSubmitted')), invalid(), tooLarge(), notJson(), keyConflict()),
        parameters: [idempotencyKeyParameter('the first jobs'), ...options],
        requestBody: {
          required: true,
          content: jsonContent({ type: 'object', required: ['inputs'], properties: { inputs: { type: 'array', minItems: 1, maxItems: MAX_BATCH_SIZE, items: ref(`${id}_input`) } } }),
        },
      },
    };
    paths[`/v1/tasks/${entry.name}/retry-failed`] = { post: { ...tag, ...op(`Retry every failed job of ${entry.name}`, ok('How many', json(api.retriedFailedSchema))) } };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'taskpool producer', version: '1', description: 'Submit tasks, read and manage their jobs. Every route but /health needs a bearer token.' },
    security: [{ bearer: [] }],
    paths,
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  };
}

/**
 * Adds a schema to `components.schemas`. zod puts the parts of a recursive schema in its own `$defs`, whose
 * `#/$defs/x` references (and `#`, the root) would not resolve inside the document: they move beside it as `<name>_x`.
 */
function embed(schemas: Record<string, JsonSchema>, name: string, schema: JsonSchema): void {
  const { $defs, ...rest } = schema as JsonSchema & { $defs?: Record<string, JsonSchema> };
  const rename = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rename);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => [key, key === '$ref' && typeof v === 'string' ? moved(v) : rename(v)]),
    );
  };
  const moved = (ref: string): string => {
    if (ref === '#') return `#/components/schemas/${name}`;
    return ref.startsWith('#/$defs/') ? `#/components/schemas/${name}_${ref.slice(8)}` : ref;
  };
  schemas[name] = rename(rest) as JsonSchema;
  for (const [def, part] of Object.entries($defs ?? {})) schemas[`${name}_${def}`] = rename(part) as JsonSchema;
}

function json(schema: z.ZodType): JsonSchema {
  return toJsonSchema(schema, 'output');
}

function ref(name: string): JsonSchema {
  return { $ref: `#/components/schemas/${name}` };
}

function jsonContent(schema: JsonSchema): Record<string, unknown> {
  return { 'application/json': { schema } };
}

function op(summary: string, ...responses: Record<number, unknown>[]): Operation {
  const unauthorized = { 401: { description: 'No valid bearer token (UNAUTHORIZED)', content: jsonContent(ref('Error')) } };
  return { summary, responses: Object.assign({}, ...responses, unauthorized) };
}

const ok = (description: string, schema: JsonSchema) => ({ 200: { description, content: jsonContent(schema) } });
const accepted = (schema: JsonSchema) => ({ 202: { description: 'Enqueued', content: jsonContent(schema) } });
const errorResponse = (status: number, description: string) => ({ [status]: { description, content: jsonContent(ref('Error')) } });
const notFound = () => errorResponse(404, 'No such job (JOB_NOT_FOUND)');
const conflict = () => errorResponse(409, 'The job is not in a state that allows it (CONFLICT)');
const invalid = () => errorResponse(400, 'Invalid input (INVALID_INPUT, with issues) or malformed request (BAD_REQUEST)');
const tooLarge = () => errorResponse(413, 'Body over the size limit (PAYLOAD_TOO_LARGE)');
const notJson = () => errorResponse(415, 'The body is not declared JSON: send content-type: application/json (UNSUPPORTED_MEDIA_TYPE)');
const keyConflict = () => errorResponse(409, 'The Idempotency-Key was used with another body (CONFLICT)');
const idParameter = () => ({ name: 'id', in: 'path', required: true, schema: { type: 'string' } });

function idempotencyKeyParameter(first: string): Record<string, unknown> {
  return {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description: `A repeat with the same key and body answers ${first} (replayed: true); with another body, 409 CONFLICT`,
    schema: { type: 'string', minLength: 1, maxLength: 255 },
  };
}

/** The per-job options of a task submit, one query parameter each, from `submitOptionsSchema` (its bounds). */
function submitOptionParameters(): Record<string, unknown>[] {
  const { properties = {} } = toJsonSchema(submitOptionsSchema, 'input') as { properties?: Record<string, JsonSchema> };
  return Object.entries(properties).map(([name, { description, ...schema }]) => ({ name, in: 'query', required: false, description, schema }));
}

function searchParameters(): Record<string, unknown>[] {
  return [
    { name: 'id', in: 'query', schema: { type: 'string' } },
    { name: 'task', in: 'query', schema: { type: 'string' } },
    { name: 'state', in: 'query', schema: json(api.searchStateSchema) },
    { name: 'text', in: 'query', description: 'Case-insensitive text in the error', schema: { type: 'string' } },
    { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
  ];
}
