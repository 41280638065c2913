import { parseArgs } from 'node:util';
import { runName } from '../../tracing/collector.ts';
import { resolveConfig } from '../cluster/cluster-file.ts';
import { opName, parseOp } from '../kv/op-grammar.ts';
import { ConfigError } from '../server/config.ts';
import { clusterUp } from './cluster-command.ts';
import { printStatus, runClientCommand } from './client-command.ts';
import { runCheckCommand } from './check-command.ts';
import { runNode } from './node-command.ts';
import { runTraceServer } from './trace-server-command.ts';
import { USAGE, UsageError } from './usage.ts';

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      id: { type: 'string' },
      config: { type: 'string' },
      nodes: { type: 'string' },
      'base-port': { type: 'string' },
      data: { type: 'string' },
      server: { type: 'string' },
      timeout: { type: 'string' },
      run: { type: 'string' },
      port: { type: 'string' },
      'no-trace': { type: 'boolean' },
      'rejoin-empty': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    console.log(USAGE);
    return;
  }
  if (command === 'node') {
    if (!values.id) throw new UsageError('node needs --id <serverId>');
    return runNode(resolveConfig(values.config).config, values.id, { rejoinEmpty: values['rejoin-empty'] ?? false });
  }
  if (command === 'cluster') {
    if (rest[0] !== 'up') throw new UsageError('cluster takes "up"');
    const nodes = positiveInt(values.nodes ?? '7', '--nodes');
    const basePort = positiveInt(values['base-port'] ?? '7100', '--base-port');
    return clusterUp({
      nodes,
      basePort,
      dataDir: values.data ?? 'data',
      config: values.config ? resolveConfig(values.config).config : undefined,
      trace: !values['no-trace'],
    });
  }
  if (command === 'trace-server') {
    const port = values.port === undefined ? 0 : positiveInt(values.port, '--port');
    return runTraceServer({ dir: values.data ?? 'traces', run: values.run ?? runName(), addr: `127.0.0.1:${port}` });
  }
  if (command === 'check') {
    if (rest.length !== 1) throw new UsageError('check takes one run directory: raftkv check <runDir>');
    process.exitCode = runCheckCommand(rest[0]);
    return;
  }
  if (command === 'tui') {
    // Loaded on demand: ink and react stay out of every other command.
    const { attachTui } = await import('../tui/run.ts');
    const { config, path: configPath } = resolveConfig(values.config);
    process.exit(await attachTui({ config, configPath }));
  }
  if (command === 'status') return printStatus(resolveConfig(values.config).config);
  if (opName(command) !== null) {
    const parsed = parseOp(command, rest);
    if (!parsed.ok) throw new UsageError(parsed.error);
    const op = parsed.op;
    const timeoutMs = positiveInt(values.timeout ?? '10000', '--timeout');
    return runClientCommand(resolveConfig(values.config).config, op, { serverId: values.server, timeoutMs });
  }
  throw new UsageError(`unknown command "${command}"`);
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer (got "${text}")`);
  return n;
}

main(process.argv.slice(2)).catch((err: Error) => {
  if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`raftkv: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(`raftkv: ${err instanceof ConfigError ? '' : 'error: '}${err.message}`);
  process.exit(1);
});
