/** The API answered with an error (`{ error: { code, message, ... } }`) or could not be reached. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    /** The HTTP status; 0 when the producer could not be reached. */
    readonly status: number,
    /** The API's error code, e.g. `JOB_NOT_FOUND`; `UNREACHABLE` when there was no answer. */
    readonly code: string,
    /** The error's other fields (issues, jobId, ...). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A thin JSON client of the producer's API. */
export interface ApiClient {
  readonly baseUrl: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
}

/** Creates a client that sends the bearer token with every request. */
export function createApiClient(options: { url: string; token: string }): ApiClient {
  const baseUrl = options.url.replace(/\/+$/, '');
  const call = async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${options.token}`, ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(`Cannot reach the producer at ${baseUrl}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, 0, 'UNREACHABLE');
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new ApiError(`${method} ${path}: HTTP ${response.status} with a body that is not JSON`, response.status, 'BAD_RESPONSE');
    }
    if (response.ok) return json as T;
    const { code = 'HTTP_ERROR', message = `HTTP ${response.status}`, ...details } = (json as { error?: Record<string, unknown> } | undefined)?.error ?? {};
    throw new ApiError(String(message), response.status, String(code), details);
  };
  return {
    baseUrl,
    get: (path) => call('GET', path),
    post: (path, body, headers) => call('POST', path, body, headers),
  };
}
