import type * as grpc from '@grpc/grpc-js';

/**
 * The server to start with: `preferred` if it answers within `preferMs`, else whichever
 * answers first. All are dialled at once, so a dead cluster costs one timeout, not one
 * per server. Waits are short and re-armed because closing a client does not cancel a
 * pending waitForReady timer, which would keep the process alive until it fires.
 */
export async function firstReachable(
  servers: { id: string; client: grpc.Client }[],
  preferred: string | undefined,
  timeoutMs: number,
  preferMs = 2000,
): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const waitReady = (c: grpc.Client, id: string) =>
    new Promise<string | null>((resolve) => {
      const attempt = () => {
        const left = deadline - Date.now();
        if (done || left <= 0) resolve(null);
        else c.waitForReady(Date.now() + Math.min(200, left), (err) => (err ? attempt() : resolve(id)));
      };
      attempt();
    });
  try {
    const ready = servers.map((s) => waitReady(s.client, s.id));
    const i = servers.findIndex((s) => s.id === preferred);
    if (i >= 0) {
      const wait = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), Math.min(preferMs, timeoutMs))));
      const id = await Promise.race([ready[i], wait]);
      if (id !== null) return id;
    }
    return await new Promise<string | null>((resolve) => {
      let left = ready.length;
      for (const p of ready) void p.then((id) => (id !== null ? resolve(id) : --left === 0 && resolve(null)));
    });
  } finally {
    done = true;
    clearTimeout(timer);
  }
}
