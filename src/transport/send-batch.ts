/**
 * Collects what is to be written to one stream and hands it over in one piece. When
 * nothing else is under way it goes at the end of the current run of synchronous code (a
 * microtask): a lone call then costs no turn of the event loop, which at concurrency 1
 * is only latency, and what the same run adds still shares its message. While other
 * work is under way it goes at the end of the turn (setImmediate, as TickBatch in
 * tracing/ does), so that many calls in flight share one message.
 */
export class SendBatch<T> {
  private items: T[] = [];

  constructor(private readonly flushTo: (items: T[]) => void) {}

  /** Adds `item`; `busy`: other work is under way whose items should go with it. */
  push(item: T, busy: boolean): void {
    if (this.items.length === 0) {
      if (busy) setImmediate(() => this.flush());
      else queueMicrotask(() => this.flush());
    }
    this.items.push(item);
  }

  /** Hands over what is held now (also called when the microtask or immediate runs). */
  flush(): void {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.flushTo(items);
  }

  /** Forgets what is held, e.g. when the stream it was meant for broke. */
  clear(): void {
    this.items = [];
  }
}
