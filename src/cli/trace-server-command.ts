import path from 'node:path';
import { startCollector, type Collector } from '../../tracing/collector.ts';

export async function startTraceServer(opts: { dir: string; run: string; addr: string }): Promise<Collector> {
  return startCollector({ dir: path.join(opts.dir, opts.run), addr: opts.addr });
}

/** `raftkv trace-server`: collects until SIGINT/SIGTERM, then flushes its files. */
export async function runTraceServer(opts: { dir: string; run: string; addr: string }): Promise<void> {
  const collector = await startTraceServer(opts);
  console.log(`tracing server on ${collector.addr}, writing ${collector.dir}/{shiviz.log,trace.jsonl,history.json}`);
  console.log(`point servers at it with "traceServer": "${collector.addr}" in the cluster config`);
  const stop = async (signal: string) => {
    await collector.stop();
    console.log(`${signal}: flushed ${collector.writer.events} events to ${collector.dir}`);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
