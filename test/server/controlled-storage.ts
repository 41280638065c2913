import type { Entry, HardState, Message } from '../../src/raft/types.ts';
import type { RaftNodeOptions } from '../../src/server/raft-node.ts';
import { Invariants } from '../sim/invariants.ts';
import type { DurableState } from '../sim/node.ts';

/** What RaftNode needs of its storage, whatever the storage module is called. */
export type NodeStorage = RaftNodeOptions['storage'];

export interface Save {
  seq: number;
  hardState: HardState | null;
  entries: Entry[];
  state: 'pending' | 'resolved' | 'rejected';
}

interface PendingSave extends Save {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * A RaftStorage stand-in whose saves the test settles by hand, in call order as the real
 * one does. `durable` is what resolved saves made durable (what survives a crash);
 * `written` also holds what pending saves wrote but have not yet fsynced.
 */
export class ControlledStorage {
  readonly saves: Save[] = [];
  private pending: PendingSave[] = [];
  durable: { hardState: HardState; entries: Entry[] };
  written: { hardState: HardState; entries: Entry[] };
  /** Resolve every save on the next macrotask, as a fast disk would. */
  auto = false;
  private listeners: (() => void)[] = [];

  constructor(initial: { hardState?: HardState; entries?: Entry[] } = {}) {
    this.durable = clone({ hardState: initial.hardState ?? { term: 0, votedFor: null, commitIndex: 0 }, entries: initial.entries ?? [] });
    this.written = clone(this.durable);
  }

  /** The same RaftNode options type expects; only initialState() and save() are used. */
  asStorage(): NodeStorage {
    return this as unknown as NodeStorage;
  }

  initialState(): { hardState: HardState; entries: Entry[] } {
    return clone(this.durable);
  }

  save(hardState: HardState | null, entries: Entry[]): Promise<void> {
    const save: Save = { seq: this.saves.length + 1, hardState: hardState && { ...hardState }, entries: entries.map((e) => ({ ...e })), state: 'pending' };
    this.saves.push(save);
    apply(this.written, save);
    const promise = new Promise<void>((resolve, reject) => this.pending.push(Object.assign(save, { resolve, reject })));
    this.notify();
    if (this.auto) setImmediate(() => this.resolveAll());
    return promise;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Makes the oldest pending save durable and resolves it. */
  resolveNext(): Save {
    const save = this.pending.shift();
    if (!save) throw new Error('no pending save to resolve');
    apply(this.durable, save);
    save.state = 'resolved';
    save.resolve();
    this.notify();
    return save;
  }

  resolveAll(): void {
    while (this.pending.length > 0) this.resolveNext();
  }

  /** Fails the oldest pending save; what it wrote is not durable. */
  rejectNext(err: Error): Save {
    const save = this.pending.shift();
    if (!save) throw new Error('no pending save to reject');
    save.state = 'rejected';
    save.reject(err);
    this.notify();
    return save;
  }

  /**
   * The process dies: its pending writes never reach the disk (the worst case of a crash
   * before fsync). Returns the storage a restarted process finds; this one stays, so the
   * test can still settle the dead process's saves and see that nothing follows.
   */
  crash(): ControlledStorage {
    return new ControlledStorage(clone(this.durable));
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }
}

function clone(s: { hardState: HardState; entries: Entry[] }): { hardState: HardState; entries: Entry[] } {
  return { hardState: { ...s.hardState }, entries: s.entries.map((e) => ({ ...e })) };
}

function apply(target: { hardState: HardState; entries: Entry[] }, save: Save): void {
  if (save.hardState) target.hardState = { ...save.hardState };
  if (save.entries.length > 0) {
    target.entries.length = save.entries[0].index - 1;
    target.entries.push(...save.entries.map((e) => ({ ...e })));
  }
}

/** Every message a node sent, each checked against what was durable at the moment it left. */
export class SendLog {
  readonly messages: Message[] = [];
  readonly violations: string[] = [];
  private listeners: (() => void)[] = [];

  constructor(private readonly storage: () => ControlledStorage) {}

  readonly send = (messages: Message[]): void => {
    const { hardState, entries } = this.storage().durable;
    const durable: DurableState = { hardState, entries, snapshot: null, appliedIndex: 0, appliedTerm: 0, kv: new Map(), digest: '0' };
    for (const m of messages) {
      try {
        new Invariants().sent(m, durable);
      } catch (err) {
        this.violations.push((err as Error).message);
      }
      this.messages.push(m);
    }
    if (messages.length > 0) for (const l of this.listeners) l();
  };

  onSend(fn: () => void): void {
    this.listeners.push(fn);
  }

  of<T extends Message['type']>(type: T): Extract<Message, { type: T }>[] {
    return this.messages.filter((m): m is Extract<Message, { type: T }> => m.type === type);
  }
}

/** Resolves once `cond` holds, checking after every macrotask; rejects after `ms`. */
export async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Lets the node run for a while (macrotasks and timers) without anything else happening. */
export async function settle(ms = 30): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}
