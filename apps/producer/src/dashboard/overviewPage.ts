import { SEARCHABLE_STATES } from '@taskpool/core';
import type { OverviewStats } from '../overviewStats.ts';
import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';
import { overviewFragment } from './overviewFragment.ts';

/** The dashboard's one page: the live overview (`overviewFragment`) and the job search. */
export function overviewPage(stats: OverviewStats): SafeHtml {
  const taskOptions = stats.tasks.map((t) => html`<option value="${t.name}">${t.name}</option>`);
  const stateOptions = SEARCHABLE_STATES.map((s) => html`<option value="${s}">${s}</option>`);
  return layout({
    title: 'Overview',
    loggedIn: true,
    prefix: stats.prefix,
    body: html`<div id="flash" role="status" aria-live="polite"></div>
<div id="overview" data-refresh="/dashboard/fragments/overview">
${overviewFragment(stats)}
</div>
<section class="card" id="search">
<h2>Find jobs</h2>
<form id="search-form" action="/dashboard/fragments/jobs" method="get">
  <label>Job id <input name="id" type="search" placeholder="uuid"></label>
  <label>Task <select name="task"><option value="">any</option>${taskOptions}</select></label>
  <label>State <select name="state"><option value="">any</option>${stateOptions}</select></label>
  <label>Error text <input name="text" type="search" placeholder="e.g. quota"></label>
  <button type="submit">Search</button>
</form>
<div id="results"></div>
</section>`,
  });
}
