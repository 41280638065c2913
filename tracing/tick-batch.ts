/**
 * Collects what one turn of the event loop produces and hands it over in one piece at
 * the end of that turn (setImmediate): on a gRPC stream, one message per turn instead
 * of one per item, which is most of the per-item cost once many items are in flight.
 *
 * It lives in tracing/ because tracing is the lowest layer that batches this way (the
 * collector sink, flushed early by send-barrier.ts); transport and server sit above
 * tracing, so they import it from here without an arrow pointing up.
 */
export class TickBatch<T> {
  private items: T[] = [];

  constructor(private readonly flushTo: (items: T[]) => void) {}

  push(item: T): void {
    if (this.items.length === 0) setImmediate(() => this.flush());
    this.items.push(item);
  }

  /** Hands over what is held now (also called by the timer). */
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
