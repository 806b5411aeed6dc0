import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { TaskpoolAdmin } from '@taskpool/core';
import type { FastifyInstance } from 'fastify';

/** Where Bull Board is served: under the dashboard, so the same auth hook guards it. */
export const BULL_BOARD_PATH = '/dashboard/queues';

/**
 * A `<link>` to another host, e.g. Bull Board's Google Fonts stylesheet
 * (`https://fonts.googleapis.com/css2?family=IBM+Plex+Sans...`): absolute `http(s):` or protocol-relative `//` href.
 */
const REMOTE_LINK = /<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?\/\/[^>]*>\s*/gi;

/**
 * Bull Board's page without links to other hosts. Its page asks Google Fonts for IBM Plex, and
 * `@bull-board/ui` ships no font files to serve instead; without the link its stylesheet falls back to its own
 * system stack (`system-ui, -apple-system, "Segoe UI", sans-serif`, `ui-monospace, ... monospace`), and a
 * browser on the dashboard asks nothing of any host but the producer.
 */
export function withoutRemoteLinks(page: string): string {
  return page.replace(REMOTE_LINK, '');
}

/**
 * Mounts Bull Board (every queue, with its own views of jobs, logs and actions) for what our overview does not
 * show. It has no auth of its own: the producer's hook asks its pages and API calls for the session cookie.
 * Its HTML page goes out through {@link withoutRemoteLinks}.
 */
export function mountBullBoard(app: FastifyInstance, admin: TaskpoolAdmin): void {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: admin.queueNames.map((name) => new BullMQAdapter(admin.queue(name))),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'taskpool' } },
  });
  // A scope of its own, so the hook sees Bull Board's replies only.
  void app.register(async (board) => {
    board.addHook('onSend', async (_request, reply, payload) => {
      const type = reply.getHeader('content-type');
      return typeof payload === 'string' && typeof type === 'string' && type.startsWith('text/html') ? withoutRemoteLinks(payload) : payload;
    });
    await board.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  });
}
