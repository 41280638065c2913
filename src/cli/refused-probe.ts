import net from 'node:net';

/**
 * Whether every server refuses a TCP connection (ECONNREFUSED: nothing listens at its
 * address) right now: resolves with a description ("every server refused the connection,
 * nothing listens at s1@127.0.0.1:7101, ...") when all do, and never resolves otherwise (one accepts, times out within
 * `waitMs`, or fails another way), so callers race it against connecting. A server that
 * refuses the connection cannot have received anything over it: a write raced against
 * this and never sent is provably not applied.
 */
export function refusedByAll(servers: readonly { id: string; addr: string }[], waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    let refused = 0;
    for (const s of servers) {
      const target = hostPort(s.addr);
      if (target === null) continue;
      const sock = net.connect(target);
      sock.setTimeout(Math.max(1, waitMs), () => sock.destroy());
      sock.once('connect', () => sock.destroy());
      sock.once('error', (err: NodeJS.ErrnoException) => {
        sock.destroy();
        if (err.code === 'ECONNREFUSED' && ++refused === servers.length) {
          resolve(`every server refused the connection, nothing listens at ${servers.map((x) => `${x.id}@${x.addr}`).join(', ')}`);
        }
      });
    }
  });
}

/** "host:port" or "[v6]:port" as net.connect options; null when it is neither. */
function hostPort(addr: string): { host: string; port: number } | null {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr);
  if (!m) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1], port } : null;
}
