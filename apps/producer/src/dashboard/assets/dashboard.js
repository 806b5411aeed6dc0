// The dashboard's only script: no build, no framework. It swaps server-rendered fragments in place
// (the overview every 2 s, the search results with it) and sends the buttons' actions to the API,
// authenticated by the session cookie (same origin, so the producer's CSRF check passes).
'use strict';

const REFRESH_MS = 2000;
let lastSearch = null;
// Jobs a button acted on stay in the results (a retried job no longer matches a search by its error text).
const watched = new Set();

async function request(url, options = {}) {
  const response = await fetch(url, { credentials: 'same-origin', ...options });
  if (response.status === 401) {
    window.location.assign('/dashboard/login?next=' + encodeURIComponent(window.location.pathname));
    throw new Error('Logged out');
  }
  return response;
}

async function swap(id, url) {
  const target = document.getElementById(id);
  if (!target) return;
  const response = await request(url, { headers: { accept: 'text/html' } });
  if (response.ok) target.innerHTML = await response.text();
}

function flash(text, bad) {
  const box = document.getElementById('flash');
  if (!box) return;
  box.textContent = text;
  box.className = bad ? 'flash bad' : 'flash';
}

async function refresh() {
  try {
    await swap('overview', '/dashboard/fragments/overview');
    if (lastSearch !== null) await swap('results', resultsUrl());
    document.body.classList.remove('stale');
  } catch {
    document.body.classList.add('stale');
  }
}

function resultsUrl() {
  const params = new URLSearchParams(lastSearch);
  if (watched.size > 0) params.set('watch', Array.from(watched).join(','));
  return '/dashboard/fragments/jobs?' + params.toString();
}

async function search(params) {
  lastSearch = params.toString();
  watched.clear();
  await swap('results', resultsUrl());
}

const ACTIONS = {
  retry: (el) => ['/v1/jobs/' + encodeURIComponent(el.dataset.id) + '/retry', 'Job ' + el.dataset.id + ' retried'],
  cancel: (el) => ['/v1/jobs/' + encodeURIComponent(el.dataset.id) + '/cancel', 'Cancel sent to job ' + el.dataset.id],
  'retry-failed': (el) => ['/v1/tasks/' + encodeURIComponent(el.dataset.task) + '/retry-failed', null],
};

document.addEventListener('click', async (event) => {
  const el = event.target.closest('[data-action]');
  if (!el) return;
  if (el.dataset.action === 'show-failed') {
    const form = document.getElementById('search-form');
    form.elements.task.value = el.dataset.task;
    form.elements.state.value = 'failed';
    await search(new URLSearchParams(new FormData(form)));
    document.getElementById('search').scrollIntoView();
    return;
  }
  const action = ACTIONS[el.dataset.action];
  if (!action) return;
  const [url, done] = action(el);
  el.disabled = true;
  if (el.dataset.id) watched.add(el.dataset.id);
  const response = await request(url, { method: 'POST' });
  const body = await response.json().catch(() => ({}));
  if (response.ok) flash(done || 'Retried ' + body.retried + ' failed job(s) of ' + body.task, false);
  else flash((body.error && body.error.message) || 'Failed: HTTP ' + response.status, true);
  await refresh();
});

document.addEventListener('submit', async (event) => {
  // matches(), not .id: the form has a field named "id", which shadows the form's id property.
  if (!event.target.matches('#search-form')) return;
  event.preventDefault();
  await search(new URLSearchParams(new FormData(event.target)));
});

if (document.getElementById('overview')) setInterval(refresh, REFRESH_MS);
