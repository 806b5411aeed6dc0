/** Several messages sent as one (see {@link MessageBatcher}). */
export interface MessageBatch<M> {
  type: 'batch';
  messages: M[];
}

/**
 * Sends the messages of one turn of the event loop as one: the first message of a turn is held until the loop's
 * next check phase (`setImmediate`), and every message sent until then leaves with it, in order, in one write
 * (a `{ type: 'batch', messages }` when there are several). On a shared core each write to a pipe costs a
 * system call and wakes the process at the other end; the supervisor and its sandboxes exchange two messages
 * per job, so under load this is most of what a short job costs them (docs/architecture.md, "Per-job floor").
 * A lone message waits for nothing but the end of the turn that sent it.
 */
export class MessageBatcher<M extends { type: string }> {
  #pending: M[] = [];
  #scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly write: (message: M | MessageBatch<M>) => void) {}

  /** Sends `message` with the others of this turn. */
  send(message: M): void {
    this.#pending.push(message);
    this.#scheduled ??= setImmediate(() => this.flush());
  }

  /** Writes what waits now (before the process exits, or when order with a direct write matters). */
  flush(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    const messages = this.#pending;
    if (messages.length === 0) return;
    this.#pending = [];
    this.write(messages.length === 1 ? messages[0]! : { type: 'batch', messages });
  }
}

/** The messages a received message carries: itself, or a batch's, in order. */
export function unbatch<M extends { type: string }>(message: M | MessageBatch<M>): readonly M[] {
  return message.type === 'batch' ? (message as MessageBatch<M>).messages : [message as M];
}
