import { html, type SafeHtml } from './html.ts';

const WIDTH = 180;
const HEIGHT = 36;

/**
 * An inline SVG of per-minute counts over the last hour: completed as a line with its area, failed as red
 * bars along the bottom. The `<title>` says the totals for screen readers and on hover.
 */
export function sparkline(series: readonly { completed: number; failed: number }[], label: string): SafeHtml {
  const max = Math.max(1, ...series.map((m) => m.completed + m.failed));
  const step = series.length > 1 ? WIDTH / (series.length - 1) : WIDTH;
  const y = (n: number) => (HEIGHT - 2 - (n / max) * (HEIGHT - 4)).toFixed(1);
  const points = series.map((m, i) => `${(i * step).toFixed(1)},${y(m.completed)}`).join(' ');
  const failed = series
    .map((m, i) => (m.failed > 0 ? html`<rect class="spark-failed" x="${(i * step - 1).toFixed(1)}" y="${y(m.failed)}" width="2" height="${(HEIGHT - 2 - Number(y(m.failed))).toFixed(1)}"/>` : undefined))
    .filter(Boolean);
  return html`<svg class="spark" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${label}">
<title>${label}</title>
<polygon class="spark-area" points="0,${HEIGHT} ${points} ${WIDTH},${HEIGHT}"/>
<polyline class="spark-line" points="${points}"/>
${failed}
</svg>`;
}
