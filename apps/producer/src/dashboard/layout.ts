import { html, type SafeHtml } from './html.ts';

/** The page shell: head, top bar (with logout once logged in), the page's content. */
export function layout(options: { title: string; body: SafeHtml; loggedIn: boolean; prefix?: string }): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · taskpool</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/assets/dashboard.css">
<script src="/dashboard/assets/dashboard.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/dashboard">taskpool</a>
  ${options.prefix !== undefined && html`<span class="muted">prefix <code>${options.prefix}</code></span>`}
  ${
    options.loggedIn &&
    html`<nav>
    <a href="/dashboard">Overview</a>
    <a href="/dashboard/queues">Queues (Bull Board)</a>
    <a href="/openapi.json">API</a>
    <form method="post" action="/dashboard/logout"><button type="submit" class="link">Log out</button></form>
  </nav>`
  }
</header>
<main>
${options.body}
</main>
</body>
</html>`;
}

/** The login page: one field, the API token, posted as a form. */
export function loginPage(options: { next: string; error?: string }): SafeHtml {
  return layout({
    title: 'Log in',
    loggedIn: false,
    body: html`<section class="login card">
  <h1>Log in</h1>
  <p class="muted">Use one of the producer's API tokens (<code>TASKPOOL_API_TOKENS</code>).</p>
  ${options.error && html`<p class="error" role="alert">${options.error}</p>`}
  <form method="post" action="/dashboard/login">
    <input type="hidden" name="next" value="${options.next}">
    <label for="token">API token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    <button type="submit">Log in</button>
  </form>
</section>`,
  });
}
