import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Rule preference of our drop rules: before the local table, which is moved to LOCAL_PREF. */
const DROP_PREF = 10;
const LOCAL_PREF = 100;
/**
 * One network namespace per server, made by a chaos run (`--net namespaces`) and removed
 * at its end: real partitions, as Jepsen makes them with iptables, so gRPC meets silent
 * loss and half-open connections instead of a message filter.
 *
 * Layout: a bridge `<runId>br` in the root namespace holds 10.213.X.1/24 (X chosen free
 * among the addresses in use); the k-th server (1-based: s1 of s1..sN), id `<id>`, lives
 * in namespace `<runId>-<id>` behind a veth pair (`<runId>v<k>` on the bridge, eth0
 * inside) with 10.213.X.(10+k). Clients, the
 * admin calls and the tracing server stay in the root namespace and reach every server
 * through the bridge; only links between servers are ever cut.
 *
 * A cut `from -> to` is a policy rule in `to`'s namespace, `from <from's address>
 * blackhole`, ahead of the local table: `to` silently drops every packet `from` sends
 * it (SYNs and ACKs included). This host has no iptables or nft, and tc actions may be
 * missing from the kernel; policy routing is always there. Cutting both directions of
 * a pair is a partition; one direction alone stalls TCP both ways at the packet level
 * (the ACKs are lost), which is why one-way cuts are made on messages instead (see
 * docs/CHAOS.md).
 */
export class NetNamespaces {
  private readonly cuts = new Set<string>();
  private tornDown = false;

  private constructor(
    readonly runId: string,
    /** The subnet's third octet. */
    readonly subnet: number,
    readonly ids: readonly string[],
  ) {}

  /** Why namespaces cannot be made here, or null when they can (root and `ip` on the PATH). */
  static unavailable(): string | null {
    if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
    if (process.getuid?.() !== 0) return 'network namespaces need root (run as root, or use --net links)';
    if (!['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].some((p) => existsSync(p))) return 'the ip command (iproute2) is not installed';
    return null;
  }

  /**
   * Makes the bridge and a namespace per server (`ids`, in order). `beforeBuild` hears
   * their names before any is made (a chaos run records them in its state file, so that
   * the next run removes them if this one is killed: run-state.ts). Throws, having
   * removed whatever it made, when a step fails.
   */
  static async create(ids: readonly string[], beforeBuild?: (net: NetNamespaces) => void): Promise<NetNamespaces> {
    const runId = `rk${randomBytes(2).toString('hex')}`;
    const net = new NetNamespaces(runId, await freeSubnet(), ids);
    beforeBuild?.(net);
    try {
      await net.build();
    } catch (err) {
      net.teardownSync();
      throw err;
    }
    return net;
  }

  get bridge(): string {
    return `${this.runId}br`;
  }

  /** The bridge's address: where processes in the root namespace are seen from the servers (the tracing server listens here). */
  get hostAddress(): string {
    return `10.213.${this.subnet}.1`;
  }

  /** The namespace of server `id`: `<runId>-<id>` (`rk1a2b-s1` for s1). */
  namespaceOf(id: string): string {
    this.index(id);
    return `${this.runId}-${id}`;
  }

  /** The address of the k-th server of `ids` (1-based, so s1 of s1..sN): 10.213.X.(10+k). */
  addressOf(id: string): string {
    return `10.213.${this.subnet}.${11 + this.index(id)}`;
  }

  /** Every namespace of the run, in the order of `ids`. */
  get namespaces(): string[] {
    return this.ids.map((id) => this.namespaceOf(id));
  }

  /** The command prefix that runs a server's process inside its namespace (ip netns exec execs: the pid is the server's). */
  spawnPrefix(id: string): string[] {
    return ['ip', 'netns', 'exec', this.namespaceOf(id)];
  }

  /** Replaces the cuts in force: each [from, to] drops every packet from `from` to `to`. */
  async setCuts(cuts: Iterable<readonly [string, string]>): Promise<void> {
    const wanted = new Set([...cuts].map(([from, to]) => `${from}>${to}`));
    for (const c of [...this.cuts]) {
      if (wanted.has(c)) continue;
      const [from, to] = c.split('>');
      await ip('-n', this.namespaceOf(to), 'rule', 'del', 'pref', String(DROP_PREF), 'from', this.addressOf(from), 'blackhole');
      this.cuts.delete(c);
    }
    for (const c of wanted) {
      if (this.cuts.has(c)) continue;
      const [from, to] = c.split('>');
      await ip('-n', this.namespaceOf(to), 'rule', 'add', 'pref', String(DROP_PREF), 'from', this.addressOf(from), 'blackhole');
      this.cuts.add(c);
    }
  }

  /** Removes the namespaces (their veth pairs go with them) and the bridge; safe to call twice, and from an exit handler. */
  teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    removeNetwork(this.namespaces, this.bridge);
  }

  private index(id: string): number {
    const i = this.ids.indexOf(id);
    if (i < 0) throw new Error(`${id} has no namespace in run ${this.runId}`);
    return i;
  }

  private async build(): Promise<void> {
    await ip('link', 'add', this.bridge, 'type', 'bridge');
    await ip('addr', 'add', `${this.hostAddress}/24`, 'dev', this.bridge);
    await ip('link', 'set', this.bridge, 'up');
    for (const [i, id] of this.ids.entries()) {
      const ns = this.namespaceOf(id);
      const hostSide = `${this.runId}v${i + 1}`;
      await ip('netns', 'add', ns);
      await ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('link', 'set', hostSide, 'master', this.bridge, 'up');
      await ip('-n', ns, 'addr', 'add', `${this.addressOf(id)}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      // Drop rules must come before the local table (preference 0 by default), or packets
      // for this namespace's own address would be delivered before any rule is consulted.
      await ip('-n', ns, 'rule', 'add', 'pref', String(LOCAL_PREF), 'lookup', 'local');
      await ip('-n', ns, 'rule', 'del', 'pref', '0');
    }
  }
}

/** Removes namespaces (their veth pairs go with them) and a bridge, ignoring those already gone. */
export function removeNetwork(namespaces: readonly string[], bridge: string | null): void {
  for (const ns of namespaces) quietSync('ip', 'netns', 'del', ns);
  if (bridge) quietSync('ip', 'link', 'del', bridge);
}

async function ip(...args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`);
  }
}

function quietSync(cmd: string, ...args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
}

/** A third octet X such that no interface holds an address in 10.213.X.0/24. */
async function freeSubnet(): Promise<number> {
  const { stdout } = await run('ip', ['-o', '-4', 'addr', 'show']);
  const used = new Set([...stdout.matchAll(/inet 10\.213\.(\d+)\./g)].map((m) => Number(m[1])));
  const start = 1 + (randomBytes(1)[0] % 250);
  for (let k = 0; k < 250; k++) {
    const x = 1 + ((start + k) % 250);
    if (!used.has(x)) return x;
  }
  throw new Error('no free subnet in 10.213.0.0/16 for the run');
}
