import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useSpawnedStack } from './helpers/spawnStack.ts';
import { AUTH, TEST_TOKEN } from './helpers/testToken.ts';

// The dashboard in headless Chromium against a real stack: a producer process and two worker processes.
const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SCREENSHOT = join(ROOT, 'test-results', 'dashboard.png');
const dir = mkdtempSync(join(tmpdir(), 'tp-dashboard-'));
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

const stack = useSpawnedStack({ tasks: 'test/fixtures/producerTasks.ts', workers: 2, concurrency: 1 });
let browser: BrowserContext | undefined;

beforeAll(async () => {
  browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
  });
});

afterAll(async () => {
  await browser?.close();
});

async function api<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${stack.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...AUTH, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return (await res.json()) as T;
}

describe.skipIf(!existsSync(CHROMIUM))('dashboard in Chromium', () => {
  it('logs in, shows two live workers, finds a failed job by its error text, retries it and watches it complete without a reload; it and Bull Board ask no other host', async () => {
    // A job that fails until its marker file exists, plus a few that complete, for the charts.
    const marker = join(dir, 'marker');
    const { id } = await api<{ id: string }>('/v1/tasks/test.flaky', { marker, label: 'invoice-7731' });
    await api('/v1/tasks/test.sumSqrt/batch', { inputs: [{ n: 10_000 }, { n: 20_000 }, { n: 30_000 }] });
    expect((await api<{ state: string }>(`/v1/jobs/${id}?waitMs=20000`)).state).toBe('failed');

    const page: Page = browser!.pages()[0] ?? (await browser!.newPage());
    // Every request of every page, to prove the dashboard and Bull Board ask nothing of another host.
    const requested: string[] = [];
    browser!.on('request', (request) => requested.push(request.url()));
    const consoleLines: string[] = [];
    page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => consoleLines.push(`pageerror: ${error.message}`));
    try {
      await walkThrough(page, id, marker);
      const local = new URL(stack.url).host;
      expect(requested.some((url) => url.includes('/dashboard/queues/static/'))).toBe(true);
      expect(requested.filter((url) => !url.startsWith('data:') && new URL(url).host !== local)).toEqual([]);
    } catch (error) {
      // What the page showed, for whoever reads the failure.
      await page.screenshot({ path: SCREENSHOT.replace('.png', '-failed.png'), fullPage: true }).catch(() => undefined);
      throw new Error(`${(error as Error).message}\nbrowser console:\n${consoleLines.join('\n')}`, { cause: error });
    }
  });
});

async function walkThrough(page: Page, id: string, marker: string): Promise<void> {
    await page.goto(`${stack.url}/dashboard`);
    await page.waitForURL(/\/dashboard\/login/);
    await page.fill('#token', TEST_TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(`${stack.url}/dashboard`);
    // Marks this document: a reload or navigation would drop the mark.
    await page.evaluate(() => Object.assign(globalThis, { __sameDocument: true }));

    // Heartbeats reach the overview by its own refresh (every 2 s).
    await page.waitForSelector('[data-live-workers="2"]', { timeout: 20_000 });
    expect(await page.locator('#workers tbody tr').count()).toBe(2);

    await page.fill('input[name=text]', 'invoice-7731');
    await page.click('#search-form button[type=submit]');
    const row = page.locator(`tr[data-job-id="${id}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-state')).toBe('failed');
    expect(await row.textContent()).toContain('marker file missing for invoice-7731');

    writeFileSync(marker, '');
    await row.locator('button[data-action=retry]').click();
    await page.waitForSelector(`tr[data-job-id="${id}"][data-state="completed"]`, { timeout: 20_000 });
    await page.waitForSelector('#flash:has-text("retried")');
    expect(await page.evaluate(() => (globalThis as { __sameDocument?: boolean }).__sameDocument)).toBe(true);

    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Bull Board, behind the same session.
    await page.click('a[href="/dashboard/queues"]');
    await page.waitForURL(/\/dashboard\/queues/);
    await page.waitForSelector('text=default', { timeout: 20_000 });
    // Every stylesheet, font and script the page asked for has answered (or failed) by then.
    await page.waitForLoadState('networkidle');
}
