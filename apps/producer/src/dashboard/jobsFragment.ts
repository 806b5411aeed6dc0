import type { JobSummary } from '@taskpool/core';
import { describeFailureReason } from './failureReason.ts';
import { formatTime } from './format.ts';
import { html, type SafeHtml } from './html.ts';

const CANCELLABLE = new Set(['waiting', 'prioritized', 'delayed', 'active', 'waiting-children']);

/** Search results: one row per job, with Retry (failed) or Cancel (not finished) buttons. */
export function jobsFragment(result: { jobs: JobSummary[]; truncated: boolean }): SafeHtml {
  if (result.jobs.length === 0) return html`<p class="muted">No job matches.</p>`;
  const rows = result.jobs.map(
    (job) => html`<tr data-job-id="${job.id}" data-state="${job.state}">
  <td><code class="id">${job.id}</code></td><td><code>${job.task}</code></td>
  <td><span class="badge state-${job.state}">${job.state}</span></td><td class="num">${job.attempts}</td>
  <td>${formatTime(job.createdAt)}</td><td>${formatTime(job.finishedAt)}</td>
  <td class="message">${job.error && errorCell(job.error)}</td>
  <td>
    ${job.state === 'failed' && html`<button type="button" data-action="retry" data-id="${job.id}">Retry</button>`}
    ${CANCELLABLE.has(job.state) && html`<button type="button" class="danger" data-action="cancel" data-id="${job.id}">Cancel</button>`}
  </td>
</tr>`,
  );
  return html`<table>
<thead><tr><th>Job</th><th>Task</th><th>State</th><th class="num">Attempts</th><th>Created (UTC)</th><th>Finished (UTC)</th><th>Error</th><th></th></tr></thead>
<tbody>${rows}</tbody>
</table>
${result.truncated && html`<p class="muted">Only the newest 5,000 jobs per state were searched.</p>`}`;
}

/** A failed job's error: its class, reason (with what it means), code and message. */
function errorCell(error: NonNullable<JobSummary['error']>): SafeHtml {
  const reason = error.reason && html` <span class="badge reason-${error.reason}" title="${describeFailureReason(error.reason)}">${error.reason}</span>`;
  return html`<strong>${error.name}</strong>${reason}${error.code && html` <code class="error-code">${error.code}</code>`}: ${error.message}`;
}
