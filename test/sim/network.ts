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

/**
 * Which links are cut, and the fate of each message that crosses one that is not. Cuts
 * are one-way underneath: partition(), isolate() and cutLink() cut both directions;
 * cutOneWay() cuts one, so a node can hear a peer that cannot hear it.
 */
export class SimNetwork {
  /** Directed cuts, "from>to". */
  private cut = new Set<string>();
  faults: NetworkFaults = reliable;

  constructor(private readonly rng: Rng) {}

  /** Delivery delays for one send: empty when lost, two when duplicated. */
  fate(from: string, to: string): number[] {
    if (!this.connected(from, to) || this.rng.next() < this.faults.dropRate) return [];
    const delay = () => this.rng.int(this.faults.minDelay, this.faults.maxDelay + 1);
    return this.rng.next() < this.faults.duplicateRate ? [delay(), delay()] : [delay()];
  }

  /** Whether a message from `from` reaches `to` (checked at send and again at delivery). */
  connected(from: string, to: string): boolean {
    return !this.cut.has(directed(from, to));
  }

  /** Whether messages flow both ways between a and b. */
  linked(a: string, b: string): boolean {
    return this.connected(a, b) && this.connected(b, a);
  }

  /** Cuts every link between the groups; links inside a group are restored. */
  partition(groups: string[][]): void {
    this.cut.clear();
    for (let g = 0; g < groups.length; g++) {
      for (let h = g + 1; h < groups.length; h++) {
        for (const a of groups[g]) for (const b of groups[h]) this.cutLink(a, b);
      }
    }
  }

  isolate(id: string, all: string[]): void {
    for (const other of all) if (other !== id) this.cutLink(id, other);
  }

  /** Restores every link of `id`, both ways. */
  reconnect(id: string, all: string[]): void {
    for (const other of all) this.restoreLink(id, other);
  }

  /** Cuts the link between a and b both ways, leaving every other link as it is. */
  cutLink(a: string, b: string): void {
    this.cut.add(directed(a, b));
    this.cut.add(directed(b, a));
  }

  /** Cuts only from -> to: `to` stops hearing `from`, `from` still hears `to`. */
  cutOneWay(from: string, to: string): void {
    this.cut.add(directed(from, to));
  }

  restoreLink(a: string, b: string): void {
    this.cut.delete(directed(a, b));
    this.cut.delete(directed(b, a));
  }

  /** The cut directions, "from>to", for messages and reports. */
  cuts(): string[] {
    return [...this.cut].sort();
  }

  heal(): void {
    this.cut.clear();
  }
}

function directed(from: string, to: string): string {
  return `${from}>${to}`;
}
