import { ClientError, KvClient } from '../client/kv-client.ts';
import type { ClientOp } from '../kv/command.ts';
import type { ClusterConfig } from '../server/config.ts';
import { AdminClient } from '../transport/admin-client.ts';
import { UsageError } from './usage.ts';

/** One operation against the cluster; prints the value, or the error and exits 1. */
export async function runClientCommand(config: ClusterConfig, op: ClientOp, opts: { serverId?: string; timeoutMs: number }): Promise<void> {
  if (opts.serverId !== undefined && !config.servers.some((s) => s.id === opts.serverId)) {
    throw new UsageError(`--server ${opts.serverId} is not in the config (servers: ${config.servers.map((s) => s.id).join(', ')})`);
  }
  // --timeout bounds the whole command, connecting included.
  const deadline = Date.now() + opts.timeoutMs;
  const client = await KvClient.start({
    clientId: `cli-${process.pid}-${Date.now().toString(36)}`,
    servers: config.servers,
    serverId: opts.serverId,
    connectTimeoutMs: opts.timeoutMs,
    attemptTimeoutMs: Math.min(2000, opts.timeoutMs),
    opTimeoutMs: Math.max(1, deadline - Date.now()),
    traceServer: config.traceServer ?? undefined,
  });
  try {
    const res = await client.execute(op);
    if (op.type === 'mget') for (const [i, k] of op.keys.entries()) console.log(`${k}\t${res.values?.[i] ?? ''}`);
    else console.log(res.value);
  } catch (err) {
    const failed = err instanceof ClientError && err.outcome.failed;
    console.error(`error${failed ? '' : ' (not known whether it took effect; retrying is safe)'}: ${(err as Error).message}`);
    process.exitCode = 1;
  } finally {
    await client.stop();
  }
}

/** `raftkv status`: one line per server, from its admin service. */
export async function printStatus(config: ClusterConfig, extra?: { header: string; cell(id: string): string }): Promise<void> {
  const rows = await Promise.all(
    config.servers.map(async (s) => {
      const admin = new AdminClient(s.addr);
      try {
        const st = await admin.status(1000);
        return [s.id, s.addr, st.role, st.term, st.leaderId || '-', st.commitIndex, st.appliedIndex, st.lastLogIndex, st.pid];
      } catch {
        return [s.id, s.addr, 'down'];
      } finally {
        admin.close();
      }
    }),
  );
  const header = ['server', 'addr', 'role', 'term', 'leader', 'commit', 'applied', 'last', 'pid'];
  // A down server's row is short: the extra column (the supervisor's view) still lines up.
  if (extra) for (const r of rows) r.push(...Array(header.length - r.length).fill('-'), extra.cell(String(r[0])));
  const table = [extra ? [...header, extra.header] : header, ...rows].map((r) => r.map(String));
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)) + 2);
  for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i])).join('').trimEnd());
}
