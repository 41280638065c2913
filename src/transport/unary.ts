import type * as grpc from '@grpc/grpc-js';

/** Calls a unary method with a deadline, so no call can wait forever. */
export function unary<Req, Res>(client: grpc.Client, method: string, request: Req, deadlineMs: number): Promise<Res> {
  const fn = (client as unknown as Record<string, Function>)[method];
  if (typeof fn !== 'function') return Promise.reject(new Error(`no such RPC method: ${method}`));
  return new Promise((resolve, reject) => {
    fn.call(client, request, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: Res) => {
      if (err) reject(err);
      else resolve(res);
    });
  });
}
