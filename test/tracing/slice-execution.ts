import { Tracer } from '../../tracing/tracer.ts';
import { MemorySink, type TraceRecord } from '../../tracing/record.ts';

/**
 * Small executions for the slice tests: hosts doing local actions, sends and receives
 * through real Tracers (so the clocks are the tracer's), with the causal edges kept on
 * the side (program order and send -> receive), so the expected happens-before relation
 * can be computed from the edges alone, without looking at any clock.
 */

export interface Execution {
  /** Every event in the order it happened. */
  records: TraceRecord[];
  /** edges[i]: the events that i directly precedes (next on its host, its message's receive). */
  edges: number[][];
}

/** mulberry32: a tiny seeded PRNG, so a failing seed can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds executions step by step: `local`, `send` (returns a message) and `receive`. */
export class ExecutionBuilder {
  readonly sink = new MemorySink();
  readonly edges: number[][] = [];
  private readonly tracers = new Map<string, Tracer>();
  private readonly last = new Map<string, number>();

  private tracer(host: string): Tracer {
    let t = this.tracers.get(host);
    if (!t) this.tracers.set(host, (t = new Tracer(host, this.sink)));
    return t;
  }

  private added(host: string): number {
    const i = this.sink.records.length - 1;
    this.edges.push([]);
    const prev = this.last.get(host);
    if (prev !== undefined) this.edges[prev].push(i);
    this.last.set(host, i);
    return i;
  }

  local(host: string, tag = 'Local'): number {
    this.tracer(host).record(tag, { n: this.sink.records.length }, `${host}:x`);
    return this.added(host);
  }

  send(host: string, tag = 'Send'): { from: number; token: Record<string, number> } {
    const token = this.tracer(host).send(tag, { n: this.sink.records.length })!;
    return { from: this.added(host), token };
  }

  receive(host: string, msg: { from: number; token: Record<string, number> }, tag = 'Recv'): number {
    this.tracer(host).receive(msg.token, tag, { n: this.sink.records.length });
    const i = this.added(host);
    this.edges[msg.from].push(i);
    return i;
  }

  build(): Execution {
    return { records: this.sink.records, edges: this.edges };
  }
}

/** A random execution of `steps` actions over `hosts` hosts; messages may stay undelivered. */
export function randomExecution(seed: number, hosts: number, steps: number): Execution {
  const r = rng(seed);
  const b = new ExecutionBuilder();
  const names = Array.from({ length: hosts }, (_, i) => `h${i}`);
  const inFlight: { to: string; msg: { from: number; token: Record<string, number> } }[] = [];
  for (let s = 0; s < steps; s++) {
    const host = names[Math.floor(r() * hosts)];
    const x = r();
    const mine = inFlight.findIndex((m) => m.to === host);
    if (x < 0.4 && mine >= 0) b.receive(host, inFlight.splice(mine, 1)[0].msg);
    else if (x < 0.75) {
      const to = names[Math.floor(r() * hosts)];
      const msg = b.send(host);
      if (to !== host) inFlight.push({ to, msg });
    } else b.local(host);
  }
  return b.build();
}

/** reach[i][j]: j is reachable from i over the edges (i happens before j), by DFS. */
export function transitiveClosure(edges: readonly number[][]): boolean[][] {
  const n = edges.length;
  const reach = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
  for (let i = 0; i < n; i++) {
    const stack = [...edges[i]];
    while (stack.length > 0) {
      const j = stack.pop()!;
      if (reach[i][j]) continue;
      reach[i][j] = true;
      stack.push(...edges[j]);
    }
  }
  return reach;
}
