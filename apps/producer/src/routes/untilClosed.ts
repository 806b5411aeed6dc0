/**
 * Waits for `work` (its rejection ignored) or for `closing` to abort, whichever comes first, and removes its
 * abort listener either way: a long-poll must leave the server's one closing signal as it found it (a
 * listener left behind per request grows without bound, and Node warns past 10).
 */
export async function untilClosed(closing: AbortSignal, work: Promise<unknown>): Promise<void> {
  if (closing.aborted) return;
  let onClose: (() => void) | undefined;
  const closed = new Promise<void>((resolve) => {
    onClose = resolve;
    closing.addEventListener('abort', onClose, { once: true });
  });
  try {
    await Promise.race([work.catch(() => undefined), closed]);
  } finally {
    closing.removeEventListener('abort', onClose!);
  }
}
