import type { WorkerInfo } from '@taskpool/core';
import type { OverviewStats, TaskOverview } from '../overviewStats.ts';
import { describeFailureReason } from './failureReason.ts';
import { formatAgo, formatBytes, formatDuration } from './format.ts';
import { html, type SafeHtml } from './html.ts';
import { sparkline } from './sparkline.ts';

/** The live part of the overview page: workers, tasks, failures by reason. The page's script swaps it every 2 s. */
export function overviewFragment(stats: OverviewStats): SafeHtml {
  return html`<p class="muted updated" data-generated-at="${stats.generatedAt}">Updated ${new Date(stats.generatedAt).toISOString().slice(11, 19)} UTC</p>
${workersSection(stats.workers, stats.generatedAt)}
${tasksSection(stats)}
${failuresSection(stats.tasks)}
${objectsSection(stats.objects)}`;
}

/** The objects by reference the stores hold (`client.put`, `POST /v1/objects`, and those made for jobs). */
function objectsSection(objects: OverviewStats['objects']): SafeHtml {
  const dir = objects.dir ? html`; shared directory: <span data-objects-dir="${objects.dir.objects}">${objects.dir.objects}</span> (${formatBytes(objects.dir.bytes)})` : html``;
  return html`<section class="card" id="objects">
<h2>Objects</h2>
<p>Redis: <span data-objects-redis="${objects.redis.objects}">${objects.redis.objects}</span> (${formatBytes(objects.redis.bytes)})${dir}; owned by jobs (claim-checked, <code>ctx.put</code>): <span data-objects-owned="${objects.ownedByJobs}">${objects.ownedByJobs}</span></p>
</section>`;
}

function workersSection(workers: WorkerInfo[], now: number): SafeHtml {
  const rows = workers.map((w) => {
    const rss = w.rssMb + w.sandboxes.reduce((sum, s) => sum + s.rssMb, 0);
    const cpu = w.sandboxes.reduce((sum, s) => sum + s.cpuPercent, 0);
    const healthy = w.healthy !== false;
    return html`<tr data-worker="${w.id}" data-healthy="${String(healthy)}">
  <td>${w.host}</td><td class="num">${w.pid}</td>
  <td>${healthy ? html`<span class="badge health-ok">healthy</span>` : html`<span class="badge reason-unhealthy" title="${w.unhealthyReason ?? ''}">unhealthy</span> <span class="message">${w.unhealthyReason ?? ''}</span>`}</td>
  <td class="num"><span class="busy">${w.busy}</span> / ${w.concurrency}</td>
  <td class="num">${Math.round(rss)} MB</td><td class="num">${Math.round(cpu)} %</td>
  <td class="num">${w.tasksDone} / ${w.tasksFailed}</td>
  <td>${w.queues.join(', ')}</td><td>${formatAgo(w.heartbeatAt, now)}</td>
</tr>`;
  });
  return html`<section class="card" id="workers">
<h2>Workers <span class="count" data-live-workers="${workers.length}">${workers.length} live</span></h2>
${
  workers.length === 0
    ? html`<p class="muted">No live worker. Start one with <code>taskpool-worker --tasks &lt;module&gt;</code>.</p>`
    : html`<table>
<thead><tr><th>Host</th><th class="num">PID</th><th>Health</th><th class="num">Busy / sandboxes</th><th class="num">RSS</th><th class="num">CPU</th><th class="num">Done / failed</th><th>Queues</th><th>Last heartbeat</th></tr></thead>
<tbody>${rows}</tbody>
</table>`
}
</section>`;
}

function tasksSection(stats: OverviewStats): SafeHtml {
  const rows = stats.tasks.map((t) => {
    const h = t.lastHour;
    const label = `${t.name}: ${h.completed} completed, ${h.failed} failed in the last hour`;
    return html`<tr data-task="${t.name}">
  <td><code>${t.name}</code></td><td>${t.queue}</td>
  <td class="num">${t.counts.waiting + t.counts.prioritized}</td><td class="num">${t.counts.active}</td>
  <td class="num">${t.counts.delayed}</td><td class="num ${t.counts.failed > 0 && 'bad'}">${t.counts.failed}</td>
  <td class="num">${h.completed}</td><td class="num">${h.failed}</td><td class="num">${h.throughputPerMinute}</td>
  <td class="num">${formatDuration(h.p50Ms)}</td><td class="num">${formatDuration(h.p95Ms)}</td>
  <td>${sparkline(h.series, label)}</td>
  <td><button type="button" data-action="retry-failed" data-task="${t.name}" ${t.counts.failed === 0 && html`disabled`}>Retry failed</button></td>
</tr>`;
  });
  return html`<section class="card" id="tasks">
<h2>Tasks</h2>
<table>
<thead><tr><th>Task</th><th>Queue</th><th class="num">Waiting</th><th class="num">Active</th><th class="num">Delayed</th><th class="num">Failed</th>
<th class="num">Done 1 h</th><th class="num">Failed 1 h</th><th class="num">Per min</th><th class="num">p50</th><th class="num">p95</th><th>Last hour</th><th></th></tr></thead>
<tbody>${rows}</tbody>
</table>
</section>`;
}

function failuresSection(tasks: TaskOverview[]): SafeHtml {
  const rows = tasks.flatMap((t) =>
    t.failures.map(
      (f) => html`<tr>
  <td><code>${t.name}</code></td><td><span class="badge reason-${f.reason}" title="${describeFailureReason(f.reason)}">${f.reason}</span></td>
  <td class="muted">${describeFailureReason(f.reason)}</td><td class="num">${f.count}</td>
  <td class="message">${f.message}</td>
  <td><button type="button" class="link" data-action="show-failed" data-task="${t.name}">Show</button></td>
</tr>`,
    ),
  );
  return html`<section class="card" id="failures">
<h2>Failures by reason</h2>
${
  rows.length === 0
    ? html`<p class="muted">No failed job is kept.</p>`
    : html`<table>
<thead><tr><th>Task</th><th>Reason</th><th>What happened</th><th class="num">Jobs</th><th>Latest message</th><th></th></tr></thead>
<tbody>${rows}</tbody>
</table>`
}
</section>`;
}
