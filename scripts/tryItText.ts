/**
 * What `npm start` prints once everything is up: how to submit a task and read its job, with the real URL and,
 * when `npm start` made the token, the token itself (a token the user set is theirs to type).
 */
export function tryItText(url: string, generatedToken?: string): string {
  const token = generatedToken ?? '<one of your TASKPOOL_API_TOKENS>';
  const auth = `-H 'authorization: Bearer ${token}'`;
  return `
taskpool is running at ${url}. Try it:

  curl -s -X POST ${url}/v1/tasks/math.sumSqrt ${auth} -H 'content-type: application/json' -d '{"n": 1000000}'
  curl -s ${auth} '${url}/v1/jobs/<id>?waitMs=10000'    # <id> from the first reply; waits up to 10 s for the result

Dashboard: ${url}/dashboard  (log in with the token)
API token${generatedToken === undefined ? '' : ' (made for this run; set TASKPOOL_API_TOKENS to choose your own)'}: ${token}
CLI:       TASKPOOL_URL=${url} TASKPOOL_TOKEN=${token} npx taskpool stats

Ctrl-C stops everything.

`;
}
