import type { VectorClock } from './clock.ts';
import type { Token, TraceSink } from './record.ts';

/**
 * One host's tracer. Every recorded action ticks the host's own counter by one and
 * every tick is a recorded action, which is what ShiViz requires of a log.
 */
export class Tracer {
  private clock: VectorClock;
  /** A host whose records go nowhere sends no tokens: others must not name it in clocks. */
  private readonly sendsTokens: boolean;
  /** latestToken()'s copy of `clock`, until the next action. */
  private latest: Token | undefined;
  /**
   * The clock's canonical JSON (serializeClock) around this host's own counter, until a
   * receive changes another counter: a local action's clock text is then two
   * concatenations, not a sort and a JSON.stringify (most of what tracing cost a record).
   */
  private clockText: { before: string; after: string } | undefined;
  /** The clock's hosts, sorted, each with its JSON name; until a receive brings a new host. */
  private hosts: { host: string; json: string }[] | undefined;

  constructor(
    readonly host: string,
    private readonly sink: TraceSink,
    /** A restarted process passes the clock it stopped at, so its counter continues. */
    initialClock: VectorClock = {},
  ) {
    if (!host || /\s/.test(host)) throw new Error(`trace host must be non-empty without whitespace: "${host}"`);
    this.clock = { ...initialClock };
    this.sendsTokens = sink.sendsTokens !== false;
  }

  /** Records a local action. */
  record(tag: string, body: Record<string, unknown>, traceId = ''): void {
    const own = (this.clock[this.host] ?? 0) + 1;
    if (own === 1) this.hosts = undefined; // this host's own first counter: a new key
    this.clock[this.host] = own;
    this.latest = undefined;
    if (this.sink.discards) return;
    this.clockText ??= this.splitClockText();
    const clock = `${this.clockText.before}${own}${this.clockText.after}`;
    if (this.sink.writeParts) this.sink.writeParts(this.host, traceId, tag, body, clock, own);
    else this.sink.write({ host: this.host, traceId, tag, body, clock: { ...this.clock } }, clock);
  }

  /** Records a send action and returns the token that travels with the message: the send's clock. */
  send(tag: string, body: Record<string, unknown>, traceId = ''): Token | undefined {
    this.record(tag, body, traceId);
    return this.sendsTokens ? { ...this.clock } : undefined;
  }

  /** Records a receive action: merge what the sender knew, then tick. */
  receive(token: Token | undefined, tag: string, body: Record<string, unknown>, traceId = ''): void {
    // Merged in place (the clock is this tracer's own; records and tokens get copies), and
    // the clock's text rebuilt only when a counter moved.
    if (token) {
      for (const h in token) {
        const n = token[h];
        const mine = this.clock[h];
        if (mine === undefined ? n > 0 : n > mine) {
          if (mine === undefined) this.hosts = undefined;
          this.clock[h] = n;
          this.clockText = undefined;
        }
      }
    }
    this.record(tag, body, traceId);
  }

  /** A receive whose clock travels on at once (a server relaying a result back). */
  relay(token: Token | undefined, tag: string, body: Record<string, unknown>, traceId = ''): Token | undefined {
    this.receive(token, tag, body, traceId);
    return this.sendsTokens ? { ...this.clock } : undefined;
  }

  /** serializeClock(this.clock) cut at this host's counter: `{...,"host":` and `,...}`. */
  private splitClockText(): { before: string; after: string } {
    this.hosts ??= Object.keys(this.clock).sort().map((host) => ({ host, json: JSON.stringify(host) }));
    let before = '{';
    let after = '';
    for (const { host, json } of this.hosts) {
      const n = this.clock[host];
      if (host === this.host) before += `${before === '{' ? '' : ','}${json}:`;
      else if (n > 0) {
        if (host < this.host) before += `${before === '{' ? '' : ','}${json}:${n}`;
        else after += `,${json}:${n}`;
      }
    }
    return { before, after: `${after}}` };
  }

  currentClock(): VectorClock {
    return { ...this.clock };
  }

  /**
   * The clock of this host's latest recorded action, to travel on a message whose send is
   * not recorded (tracing/raft-trace.ts: idle heartbeats), so that a receiver that learns
   * something from it can still record the receipt after what the sender knew. Names only
   * recorded actions, so the send barrier covers it as it covers a send's token; undefined
   * when this host sends no tokens, or has recorded nothing yet.
   */
  latestToken(): Token | undefined {
    if (!this.sendsTokens) return undefined;
    // One copy per recorded action, shared by every message until the next: a leader's
    // heartbeats to all its peers (and ReadIndex rounds) cost one copy, not one each.
    this.latest ??= Object.keys(this.clock).length === 0 ? undefined : Object.freeze({ ...this.clock });
    return this.latest;
  }
}
