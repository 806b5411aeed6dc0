import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withoutRemoteLinks } from './bullBoard.ts';

describe('withoutRemoteLinks', () => {
  it("drops the Google Fonts link of the installed @bull-board/ui's page and keeps its own stylesheet", () => {
    const uiDir = dirname(createRequire(import.meta.url).resolve('@bull-board/ui/package.json'));
    const page = readFileSync(join(uiDir, 'dist', 'index.ejs'), 'utf8');
    expect(page).toContain('fonts.googleapis.com');
    const local = withoutRemoteLinks(page);
    expect(local).not.toMatch(/https?:\/\//);
    expect(local).toMatch(/<link href="static\/css\/main\.[\w.]+\.css" rel="stylesheet">/);
    expect(local).toContain('<link rel="icon" type="image/svg+xml" id="fav-logo" href="<%= favIconDefault %>">');
  });

  it('drops absolute, protocol-relative and unquoted remote hrefs, not local ones', () => {
    const page = [
      '<link rel="stylesheet" href="https://cdn.example/a.css">',
      "<link href='//cdn.example/b.css' rel=stylesheet>",
      '<link rel=preconnect href=https://fonts.gstatic.com crossorigin>',
      '<LINK HREF="http://cdn.example/c.css">',
      '<link href="static/x.css" rel="stylesheet">',
      '<link href="/dashboard/assets/dashboard.css" rel="stylesheet">',
    ].join('\n');
    expect(withoutRemoteLinks(page)).toBe('<link href="static/x.css" rel="stylesheet">\n<link href="/dashboard/assets/dashboard.css" rel="stylesheet">');
  });
});
