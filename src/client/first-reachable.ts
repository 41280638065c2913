import * as grpc from '@grpc/grpc-js';

/**
 * The server to start with: `preferred` if it answers within `preferMs` (a refused
 * connection ends that wait at once: nothing listens there), else whichever answers first. All are dialled at once, so a dead cluster costs one timeout, not one
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
      const id = await Promise.race([ready[i], wait, failed(servers[i].client, () => done || Date.now() >= deadline)]);
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

/** Resolves (null) when the channel fails to connect; watches in short steps, as above. */
function failed(c: grpc.Client, over: () => boolean): Promise<null> {
  const channel = c.getChannel();
  return new Promise((resolve) => {
    const watch = () => {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN) resolve(null);
      else if (!over()) channel.watchConnectivityState(state, Date.now() + 200, watch);
    };
    watch();
  });
}
