import type { Rng } from '../../src/raft/rng.ts';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message arrives twice. */
  duplicateRate: number;
  /** One-way delay in virtual ms, uniform in [min, max]; a wide range reorders. */
  minDelay: number;
  maxDelay: number;
}

export const reliable: NetworkFaults = { dropRate: 0, duplicateRate: 0, minDelay: 1, maxDelay: 5 };
export const unreliable: NetworkFaults = { dropRate: 0.1, duplicateRate: 0.05, minDelay: 1, maxDelay: 40 };

/** Which links are cut, and the fate of each message that crosses one that is not. */
export class SimNetwork {
  private cut = new Set<string>();
  faults: NetworkFaults = reliable;

  constructor(private readonly rng: Rng) {}

  /** Delivery delays for one send: empty when lost, two when duplicated. */
  fate(from: string, to: string): number[] {
    if (!this.connected(from, to) || this.rng.next() < this.faults.dropRate) return [];
    const delay = () => this.rng.int(this.faults.minDelay, this.faults.maxDelay + 1);
    return this.rng.next() < this.faults.duplicateRate ? [delay(), delay()] : [delay()];
  }

  connected(a: string, b: string): boolean {
    return !this.cut.has(key(a, b));
  }

  /** Cuts every link between the groups; links inside a group are restored. */
  partition(groups: string[][]): void {
    this.cut.clear();
    for (let g = 0; g < groups.length; g++) {
      for (let h = g + 1; h < groups.length; h++) {
        for (const a of groups[g]) for (const b of groups[h]) this.cut.add(key(a, b));
      }
    }
  }

  isolate(id: string, all: string[]): void {
    for (const other of all) if (other !== id) this.cut.add(key(id, other));
  }

  reconnect(id: string, all: string[]): void {
    for (const other of all) this.cut.delete(key(id, other));
  }

  heal(): void {
    this.cut.clear();
  }
}

function key(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
