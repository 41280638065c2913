/**
 * Collects what is to go out and hands it over in one piece: on a gRPC stream, one
 * message for many items instead of one each, which is most of the per-item cost once
 * many items are in flight. Handed over at the end of the turn of the event loop
 * (setImmediate), so that what the whole turn adds shares the message; or, for an item
 * pushed `alone` (nothing else under way), at the end of the current run of synchronous
 * code (a microtask): a lone call then costs no turn, which at concurrency 1 is only
 * latency, and what the same run adds still goes with it.
 *
 * It lives in tracing/ because tracing is the lowest layer that batches this way (the
 * collector sink, flushed early by send-barrier.ts); transport and server sit above
 * tracing, so they import it from here without an arrow pointing up.
 */
export class TickBatch<T> {
  private items: T[] = [];

  constructor(private readonly flushTo: (items: T[]) => void) {}

  /** Adds `item`; `alone`: no other work is under way whose items should wait to go with it. */
  push(item: T, alone = false): void {
    if (this.items.length === 0) {
      if (alone) queueMicrotask(() => this.flush());
      else setImmediate(() => this.flush());
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
