import { describe, expect, it } from 'vitest';
import { html } from './html.ts';

describe('html', () => {
  it('escapes interpolated text, in content and in attributes', () => {
    const message = `<img src=x onerror="alert('x')">&`;
    expect(html`<td title="${message}">${message}</td>`.text).toBe(
      '<td title="&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;">&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;</td>',
    );
  });

  it('nests safe fragments and arrays without escaping them twice', () => {
    const rows = ['a<b', 'c'].map((text) => html`<li>${text}</li>`);
    expect(html`<ul>${rows}</ul>`.text).toBe('<ul><li>a&lt;b</li><li>c</li></ul>');
  });

  it('prints nothing for undefined, null and false, and numbers as they are', () => {
    expect(html`${undefined}${null}${false}${0}${1.5}`.text).toBe('01.5');
  });
});
