/** What `npm start` prints once everything is up: how to submit a task and read its job, with the real URL. */
export function tryItText(url: string): string {
  return `
taskpool is running at ${url}. Try it:

  curl -s -X POST ${url}/v1/tasks/math.sumSqrt -H 'content-type: application/json' -d '{"n": 1000000}'
  curl -s ${url}/v1/jobs/<id>    # <id> from the first reply

Ctrl-C stops everything.

`;
}
