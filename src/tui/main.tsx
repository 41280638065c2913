import path from 'node:path';
import { parseArgs } from 'node:util';
import { runName } from '../../tracing/collector.ts';
import { resolveConfig } from '../cluster/cluster-file.ts';
import { attachTui, launchTui } from './run.ts';

const USAGE = `npm start [-- options]     start a local cluster, its tracing server and the terminal UI

  --nodes N          servers to start (default 5)
  --data <dir>       data and logs (default data/tui-<time>/)
  --traces <dir>     trace runs go to <dir>/tui-<time>/ (default traces/)
  --attach           attach to a running cluster instead (data/cluster.json or --config)
  --config <file>    with --attach: the cluster's config
  --plain            plain line mode even on a terminal (also used when stdin is not one)

Quitting (quit, Ctrl-C) stops every process it started. "raftkv tui" attaches too.`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        nodes: { type: 'string' },
        data: { type: 'string' },
        traces: { type: 'string' },
        run: { type: 'string' },
        attach: { type: 'boolean' },
        config: { type: 'string' },
        plain: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`raftkv tui: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.attach || values.config) {
    const { config, path: configPath } = resolveConfig(values.config);
    return attachTui({ config, configPath, plain: values.plain });
  }
  const nodes = Number(values.nodes ?? '5');
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 15) {
    process.stderr.write(`raftkv tui: --nodes must be an integer from 1 to 15 (got "${values.nodes}")\n`);
    return 2;
  }
  const run = values.run ?? runName('tui-');
  return launchTui({
    nodes,
    dataDir: values.data ?? path.join('data', run),
    tracesDir: values.traces ?? 'traces',
    run,
    plain: values.plain,
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`raftkv tui: ${err.message}\n`);
    process.exit(1);
  },
);
