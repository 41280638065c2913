/**
 * A binary min-heap of (deadline, key): the keys with a TTL, soonest first, so that
 * expired keys are found in O(log n) each instead of by a scan of every key. Entries are
 * never updated in place: a key whose deadline changed or that was removed leaves a
 * stale entry, which the caller recognizes (its current deadline differs) and skips.
 */
export class DeadlineHeap {
  private readonly items: { deadlineMs: number; key: string }[] = [];

  get size(): number {
    return this.items.length;
  }

  push(deadlineMs: number, key: string): void {
    const items = this.items;
    items.push({ deadlineMs, key });
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (items[parent].deadlineMs <= items[i].deadlineMs) break;
      [items[parent], items[i]] = [items[i], items[parent]];
      i = parent;
    }
  }

  /** The soonest deadline, without removing it; Infinity when empty. */
  peek(): number {
    return this.items[0]?.deadlineMs ?? Infinity;
  }

  /** Removes and returns the entry with the soonest deadline, or undefined when empty. */
  pop(): { deadlineMs: number; key: string } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      for (let i = 0; ; ) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let least = i;
        if (l < items.length && items[l].deadlineMs < items[least].deadlineMs) least = l;
        if (r < items.length && items[r].deadlineMs < items[least].deadlineMs) least = r;
        if (least === i) break;
        [items[least], items[i]] = [items[i], items[least]];
        i = least;
      }
    }
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}
