import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { TaskpoolAdmin } from '@taskpool/core';
import type { FastifyInstance } from 'fastify';

/** Where Bull Board is served: under the dashboard, so the same auth hook guards it. */
export const BULL_BOARD_PATH = '/dashboard/queues';

/**
 * Mounts Bull Board (every queue, with its own views of jobs, logs and actions) for what our overview does not
 * show. It has no auth of its own: the producer's hook asks its pages and API calls for the session cookie.
 */
export function mountBullBoard(app: FastifyInstance, admin: TaskpoolAdmin): void {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: admin.queueNames.map((name) => new BullMQAdapter(admin.queue(name))),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'taskpool' } },
  });
  void app.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
}
