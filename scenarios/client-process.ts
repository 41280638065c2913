/**
 * A kvslib client as its own process, driven by the scenario harness over IPC, so a
 * scenario's clients are real processes like its servers.
 */
import { ClientError, KvClient, type ClientOptions, type OpOutcome } from '../src/client/kv-client.ts';
import type { ClientOp } from '../src/kv/command.ts';

export type ToClient = { type: 'start'; opts: ClientOptions } | { type: 'op'; id: number; op: ClientOp } | { type: 'stop' };
export type FromClient =
  | { type: 'started'; serverId: string }
  | { type: 'startFailed'; error: string }
  | { type: 'result'; id: number; outcome: OpOutcome; error?: string }
  | { type: 'stopped' };

let client: KvClient | null = null;
const send = (m: FromClient) => process.send?.(m);

process.on('message', (m: ToClient) => {
  if (m.type === 'start') {
    KvClient.start(m.opts).then(
      (c) => {
        client = c;
        send({ type: 'started', serverId: c.serverId });
      },
      (err: Error) => send({ type: 'startFailed', error: err.message }),
    );
  } else if (m.type === 'op') {
    client!.execute(m.op).then(
      (outcome) => send({ type: 'result', id: m.id, outcome }),
      (err: Error) => send({ type: 'result', id: m.id, outcome: err instanceof ClientError ? err.outcome : ({} as OpOutcome), error: err.message }),
    );
  } else if (m.type === 'stop') {
    void (client?.stop() ?? Promise.resolve()).then(() => {
      send({ type: 'stopped' });
      process.disconnect?.();
    });
  }
});
// The harness is gone (even killed): nothing left to serve.
process.on('disconnect', () => process.exit(0));
