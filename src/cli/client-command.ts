import { randomBytes } from 'node:crypto';
import { ClientError, KvClient, type ErrorKind, type OpOutcome } from '../client/kv-client.ts';
import { validateOp, type ClientOp } from '../kv/command.ts';
import { isReadOp } from '../kv/op-info.ts';
import { quorum } from '../raft/quorum.ts';
import { SESSION_IDLE_MS } from '../kv/sessions.ts';
import type { ClusterConfig } from '../server/config.ts';
import { AdminClient } from '../transport/admin-client.ts';
import { logSize, memorySize } from '../transport/status-format.ts';
import { findMember } from './member-lookup.ts';
import { ClientState, stateDir, type UnfinishedOp } from './client-state.ts';
import { EXIT } from './exit-codes.ts';
import { watchInterrupt, type Interrupt } from './interrupt.ts';
import { refusedByAll } from './refused-probe.ts';
import { UsageError } from './usage.ts';

export interface ClientCommandOptions {
  serverId?: string;
  /** Bounds the whole command, from `startedAt` to exit. */
  timeoutMs: number;
  /** When the command started running (Date.now(), its modules loaded). */
  startedAt: number;
  /** A stable identity (--client-id): its opIds continue across runs, and a retry re-sends the same one. */
  clientId?: string;
  /** The command as typed ("incr visits"), for messages. */
  command: string;
  /** --config as given, repeated in the retry hint. */
  configPath?: string;
  /** --json: the result as one line of JSON (formatJson) instead of text. */
  json?: boolean;
}

/** An answer to the user: what to print where, and the exit code. */
interface Report {
  code: number;
  out?: string;
  err?: string;
}

/** The client of one run, shared with the code that stops it on Ctrl-C. */
interface Run {
  client: KvClient | null;
  /** The operation went to client.execute: a write may have reached a server from here on. */
  sent: boolean;
}

/** How long an interrupted command waits for the tracing server to take its records, ms. */
const INTERRUPT_CLOSE_MS = 300;

/** A retry is refused this close to the servers' session bound (clocks differ a little). */
const RETRY_MARGIN_MS = 5 * 60 * 1000;

/**
 * One operation against the cluster (`raftkv get k`, ...), or the retry of an unfinished
 * one (`op` null: `raftkv retry --client-id c1`). Prints the result or says what happened
 * (refused, unknown outcome, no majority) and returns the exit code (exit-codes.ts).
 */
export async function runClientCommand(config: ClusterConfig, op: ClientOp | null, opts: ClientCommandOptions): Promise<number> {
  // Ctrl-C must not leave a write in flight unrecorded: from here on it is reported.
  const interrupt = watchInterrupt();
  try {
    return await runWatched(config, op, opts, interrupt);
  } finally {
    interrupt.dispose();
  }
}

async function runWatched(config: ClusterConfig, op: ClientOp | null, opts: ClientCommandOptions, interrupt: Interrupt): Promise<number> {
  if (opts.serverId !== undefined && !config.servers.some((s) => s.id === opts.serverId)) {
    // A member that joined after the config was written: the cluster knows its address.
    const joined = await findMember(config, opts.serverId);
    if (!joined) throw new UsageError(`--server ${opts.serverId} is neither in the config (servers: ${config.servers.map((s) => s.id).join(', ')}) nor a member the cluster lists`);
    config = { ...config, servers: [...config.servers, joined] };
  }
  // --timeout bounds the whole command, counted from when it started running.
  const deadline = opts.startedAt + opts.timeoutMs;
  const left = () => deadline - Date.now();
  // Kept back from the operation for saying why it failed and for closing.
  const reserve = Math.min(500, Math.max(150, opts.timeoutMs * 0.25));

  // What every server would refuse is a usage error, found before anything is sent
  // (validateOp is the servers' own check, with their limits).
  if (op !== null) {
    const invalid = validateOp(op);
    if (invalid !== null) throw new UsageError(`refused, nothing was sent: ${invalid}`);
  }

  // Who we are: a stable identity with its state, or one made up for this run.
  const dir = stateDir();
  let state: ClientState | null = null;
  let clientId: string;
  let opId: number;
  let retrying = false;
  let command = opts.command;
  if (opts.clientId !== undefined) {
    state = ClientState.open(dir, opts.clientId);
    clientId = opts.clientId;
  } else {
    if (op === null) throw new UsageError('retry needs --client-id <id> (the one the unknown outcome named)');
    clientId = `cli-${randomBytes(6).toString('hex')}`;
  }
  try {
    const unfinished = state?.unfinished ?? null;
    if (op === null) {
      if (unfinished === null) return print({ code: EXIT.OK, err: `raftkv: client ${clientId} has no unfinished operation: nothing to retry` });
      ({ op, opId, command } = unfinished);
      retrying = true;
    } else if (unfinished !== null) {
      if (JSON.stringify(unfinished.op) !== JSON.stringify(op)) {
        throw new UsageError(
          `client ${clientId} has an unfinished operation whose outcome is not known: "${unfinished.command}" (operation ${unfinished.opId}). ` +
            `Finish it first with "${retryHint(clientId, opts.configPath)}" (it will not be applied twice), or use another --client-id`,
          true,
        );
      }
      // The same command again: the retry of the unfinished operation, with its opId.
      opId = unfinished.opId;
      retrying = true;
    } else if (state !== null) {
      opId = isReadOp(op) ? state.take() : state.begin(op, command);
    } else {
      opId = 1;
    }
    const theOp: ClientOp = op;
    const age = retrying && unfinished !== null ? Date.now() - unfinished.since : 0;
    if (age > SESSION_IDLE_MS - RETRY_MARGIN_MS) {
      return print({
        code: EXIT.FAILED,
        err:
          `raftkv: refused, nothing was sent: "${command}" (client ${clientId}, operation ${opId}) was first sent ${Math.round(age / 60_000)} minutes ago; ` +
          `servers forget a client after ${SESSION_IDLE_MS / 60_000} minutes idle, so a retry now could apply it twice. ` +
          `Check the keys it touches (raftkv get), then start afresh with another --client-id.`,
      });
    }

    // The client's own deadlines end it in time; this is the backstop (e.g. a slow start).
    const write = !isReadOp(theOp);
    let timer: NodeJS.Timeout | undefined;
    const timeUp = new Promise<OpOutcome>((resolve) => {
      timer = setTimeout(
        () => resolve({ opId, op: theOp.type, key: '', value: '', error: `--timeout ${opts.timeoutMs} ms passed`, errorKind: write ? 'unknown' : 'unavailable', latencyMs: 0 }),
        Math.max(0, left() - 20),
      );
    });
    const run: Run = { client: null, sent: false };
    const outcome = interrupt.received
      ? null
      : await Promise.race([execute(config, theOp, { ...opts, clientId, opId, deadline, reserve }, run, interrupt), timeUp, interrupt.signal.then(() => null)]);
    clearTimeout(timer);
    if (outcome === null) {
      // Interrupted: record and say what became of the operation first (a second Ctrl-C
      // exits at once), then close the client: it settles the operation, and its tracing
      // sink takes the records briefly.
      const signal = interrupt.received!;
      let report: Report;
      if (!write) report = { code: EXIT.INTERRUPTED, err: `raftkv: interrupted (${signal}): "${command}" ${run.sent ? 'got no answer' : 'was not sent'}` };
      else if (!run.sent && !retrying) {
        state?.finish();
        report = { code: EXIT.INTERRUPTED, err: `raftkv: interrupted (${signal}) before anything was sent: "${command}" was not applied` };
      } else {
        // A retry that sent nothing leaves the first attempt as unknown as it was.
        report = unknownOutcome(EXIT.INTERRUPTED, `interrupted (${signal}) ${run.sent ? 'while it was in flight' : 'before the retry was sent'}`, '');
      }
      print(report);
      await run.client?.stop(INTERRUPT_CLOSE_MS).catch(() => undefined);
      return report.code;
    }
    const kind: ErrorKind | null = outcome.error === undefined ? null : outcome.errorKind ?? 'unknown';
    // A retry that reached no leader leaves the first attempt as unknown as it was.
    const effective = retrying && kind === 'unavailable' ? 'unknown' : kind;
    if (effective !== 'unknown' && write) state?.finish();

    if (kind === null) return print({ code: EXIT.OK, out: opts.json ? formatJson(theOp, outcome) : formatResult(theOp, outcome) });
    if (kind === 'refused') return print({ code: EXIT.FAILED, err: `raftkv: refused, nothing was applied: ${outcome.error}` });
    if (kind === 'failed') return print({ code: EXIT.FAILED, err: `raftkv: failed, nothing was changed: ${outcome.error}` });

    const why = (await diagnose(config, Math.min(300, left() - 50))) ?? outcome.error!;
    const detail = why === outcome.error ? '' : `\n  (${outcome.error})`;
    if (effective === 'unavailable') {
      return print({ code: EXIT.UNAVAILABLE, err: `raftkv: ${why}${write ? `; "${command}" was not applied` : ''}${detail}` });
    }
    return print(unknownOutcome(EXIT.UNKNOWN, why, detail));

    /** Unknown: keeps the operation (or records it, for an identity made up for this run) for `raftkv retry`, and says so. */
    function unknownOutcome(code: number, why: string, detail: string): Report {
      let retryLine: string;
      try {
        if (state === null) ClientState.saveGenerated(dir, clientId, { opId, op: theOp, command, since: Date.now() } satisfies UnfinishedOp);
        retryLine = `Finish it with "${retryHint(clientId, opts.configPath)}": the servers recognise it (client ${clientId}, operation ${opId}) and will not apply it twice.`;
      } catch (err) {
        retryLine = `It could not be recorded for a retry (${(err as Error).message}): check with "raftkv get" before running it again.`;
      }
      return { code, err: `raftkv: outcome unknown: "${command}" may or may not have taken effect: ${why}${detail}\n${retryLine}` };
    }
  } finally {
    state?.release();
  }
}

/** How long a command waits for the tracing server to confirm its records, at most, ms. */
const TRACE_CLOSE_MS = 1500;

/**
 * Runs the operation within the deadline; never throws (a client that cannot start is an
 * outcome too). `run` shows the client and whether the operation was sent, for Ctrl-C;
 * nothing is sent once `interrupt` has a signal.
 */
async function execute(
  config: ClusterConfig,
  op: ClientOp,
  o: ClientCommandOptions & { clientId: string; opId: number; deadline: number; reserve: number },
  run: Run,
  interrupt: Interrupt,
): Promise<OpOutcome> {
  const budget = () => Math.max(1, o.deadline - o.reserve - Date.now());
  const failed = (error: string, errorKind: ErrorKind): OpOutcome => ({ opId: o.opId, op: op.type, key: '', value: '', error, errorKind, latencyMs: 0 });
  const starting = KvClient.start({
    clientId: o.clientId,
    firstOpId: o.opId,
    servers: config.servers,
    serverId: o.serverId,
    connectTimeoutMs: budget(),
    attemptTimeoutMs: Math.min(2000, budget()),
    traceServer: config.traceServer ?? undefined,
  });
  // Every server refusing the connection ends the wait at once: nothing listens, so
  // nothing was sent. The client is used only if it started first.
  const first = await Promise.race([
    starting.then((client) => ({ client }), () => ({ client: null })),
    refusedByAll(config.servers, budget()).then((refused) => ({ refused })),
  ]);
  if ('refused' in first) {
    void starting.then((c) => c.stop(0), () => undefined);
    return failed(first.refused, 'unavailable');
  }
  if (first.client === null) {
    // Nothing was sent.
    const tried = config.servers.map((s) => `${s.id}@${s.addr}`).join(', ');
    return failed(`no server answered within ${o.timeoutMs} ms (--timeout) among ${tried}`, 'unavailable');
  }
  const client = first.client;
  run.client = client;
  // Checked just before sending: a signal from here on finds the operation sent.
  if (interrupt.received) {
    void client.stop(0);
    return failed(`interrupted (${interrupt.received})`, isReadOp(op) ? 'unavailable' : 'unknown');
  }
  run.sent = true;
  let outcome: OpOutcome;
  try {
    outcome = await client.execute(op, budget());
  } catch (err) {
    outcome = err instanceof ClientError ? err.outcome : failed((err as Error).message, isReadOp(op) ? 'unavailable' : 'unknown');
  }
  // Records (and the history entry) reach the tracing server before the process exits:
  // waited for at most TRACE_CLOSE_MS, and never past the reserve, so a tracing server
  // that accepts connections but does not answer (hung, stopped) costs the command a
  // bounded wait, with a warning, and never turns a known outcome into an unknown one.
  await client.stop(Math.min(TRACE_CLOSE_MS, Math.max(50, o.deadline - o.reserve - Date.now())));
  return outcome;
}

/**
 * A successful operation as one line of JSON (--json): `{"op", "value"}`, or for mget
 * `{"op", "values"}`, its keys' values by key. Unlike the text form, a value holding a newline or
 * a tab cannot be mistaken for the next key's.
 */
function formatJson(op: ClientOp, res: OpOutcome): string {
  if (op.type === 'mget') return JSON.stringify({ op: op.type, values: Object.fromEntries(op.keys.map((k, i) => [k, res.values?.[i] ?? ''])) });
  return JSON.stringify({ op: op.type, value: op.type === 'put' ? 'OK' : res.value });
}

/**
 * What the user sees for a successful operation: get -> the value; put -> OK; del -> the
 * value it removed (empty if none); incr -> the new value; expire -> 1 if the key exists
 * (it will expire), 0 if not; mget -> key<TAB>value per key; mput -> the number of pairs
 * (the CLI refuses a key given twice, so that is the number of keys written).
 */
function formatResult(op: ClientOp, res: OpOutcome): string {
  if (op.type === 'put') return 'OK';
  if (op.type === 'mget') return op.keys.map((k, i) => `${k}\t${res.values?.[i] ?? ''}`).join('\n');
  return res.value;
}

/**
 * Why no leader could order the operation, from the servers that answer now: "no majority:
 * 2 of 5 servers reachable, 3 needed", or "no leader: ..." when a majority answers but
 * none knows a leader. Null when a leader is known (the error itself says more).
 */
async function diagnose(config: ClusterConfig, waitMs: number): Promise<string | null> {
  if (waitMs <= 0) return null;
  const n = config.servers.length;
  const need = quorum(n);
  const statuses = await Promise.all(
    config.servers.map(async (s) => {
      const admin = new AdminClient(s.addr);
      try {
        return await admin.status(waitMs);
      } catch {
        return null;
      } finally {
        admin.close();
      }
    }),
  );
  const up = statuses.filter((s) => s !== null);
  if (up.length < need) return `no majority: ${up.length} of ${n} servers reachable, ${need} needed`;
  if (up.every((s) => !s.leaderId)) return `no leader: ${up.length} of ${n} servers reachable, but none knows a leader (still electing, or cut off from each other)`;
  return null;
}

function retryHint(clientId: string, configPath: string | undefined): string {
  return `raftkv retry --client-id ${clientId}${configPath ? ` --config ${configPath}` : ''}`;
}

function print(r: Report): number {
  if (r.out !== undefined) process.stdout.write(`${r.out}\n`);
  if (r.err !== undefined) process.stderr.write(`${r.err}\n`);
  return r.code;
}

/** `raftkv status`: one line per server, from its admin service (plus the supervisor's view when given). Exit 4 when no server answers. */
export async function printStatus(config: ClusterConfig, extra?: { header: string; cell(id: string): string }): Promise<void> {
  const peersSeen = new Map<string, string>();
  const row = async (s: { id: string; addr: string }) => {
    const admin = new AdminClient(s.addr);
    try {
      const st = await admin.status(1000);
      for (const p of st.peers) if (p.addr !== '') peersSeen.set(p.id, p.addr);
      return [s.id, s.addr, st.role, st.term, st.leaderId || '-', st.commitIndex, st.appliedIndex, st.lastLogIndex, st.snapshotIndex, logSize(st), memorySize(st), st.pid, `${st.loopStallMs}/${st.loopStallWorstMs}`];
    } catch {
      return [s.id, s.addr, 'down'];
    } finally {
      admin.close();
    }
  };
  const rows = await Promise.all(config.servers.map(row));
  // Members added since the config was written (raftkv member add, Raft §6): the servers
  // that answered list them among their peers.
  const added = [...peersSeen].filter(([id]) => !config.servers.some((s) => s.id === id)).map(([id, addr]) => ({ id, addr }));
  rows.push(...(await Promise.all(added.map(row))));
  // snap: the index the latest snapshot covers; log: entries the log holds, and log.db's size.
  // mem: the process's resident memory. stall: the longest event-loop stall in ms, over the last 10-20 s / since start.
  const header = ['server', 'addr', 'role', 'term', 'leader', 'commit', 'applied', 'last', 'snap', 'log', 'mem', 'pid', 'stall'];
  // A down server's row is short: the extra column (the supervisor's view) still lines up.
  if (extra) for (const r of rows) r.push(...Array(header.length - r.length).fill('-'), extra.cell(String(r[0])));
  const table = [extra ? [...header, extra.header] : header, ...rows].map((r) => r.map(String));
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)) + 2);
  for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i])).join('').trimEnd());
  if (rows.every((r) => r[2] === 'down')) {
    console.error(`raftkv: no server answered (${rows.length} tried)`);
    process.exitCode = EXIT.UNAVAILABLE;
  }
}
