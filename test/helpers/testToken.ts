/** The API token every producer the tests start accepts (`TASKPOOL_API_TOKENS`). */
export const TEST_TOKEN = 'test-token-4f9a1c2e7b3d5a60';
/** The header that carries it. */
export const AUTH = { authorization: `Bearer ${TEST_TOKEN}` } as const;
