import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveConfig } from '../cluster/cluster-file.ts';
import { opName, parseOp } from '../kv/op-grammar.ts';
import { ConfigError, defaultConfig, isHostPort, loadConfig, serverIdProblem, type ClusterConfig } from '../server/config.ts';
import type { MemberAction } from './member-command.ts';
import { EXIT } from './exit-codes.ts';
import { USAGE, UsageError, argsErrorMessage, commandUsage } from './usage.ts';

// Each command loads its own modules when it runs (import() below): a client command does
// not pay for the server, storage or tracing-server code, nor `--help` for any of it.

async function main(argv: string[]): Promise<number | void> {
  // `raftkv help <command>...` is `raftkv <command>... --help`.
  if (argv[0] === 'help' && argv.length > 1) argv = [...argv.slice(1), '--help'];
  // chaos parses its own options (chaos-command.ts); chaos-client is its client process.
  if (argv[0] === 'chaos') {
    const { runChaosCommand } = await import('./chaos-command.ts');
    return runChaosCommand(argv.slice(1));
  }
  if (argv[0] === 'chaos-client') {
    const { runChaosClientWorker } = await import('../chaos/client-worker.ts');
    return runChaosClientWorker();
  }
  // `trace` has options of its own (trace-command.ts), so it parses its own command line.
  if (argv[0] === 'trace') {
    const { traceMain } = await import('./trace-command.ts');
    return traceMain(argv.slice(1));
  }
  // So does `report` (report-command.ts): its errors print its own usage.
  if (argv[0] === 'report') {
    const { reportMain } = await import('./report-command.ts');
    return reportMain(argv.slice(1));
  }
  // A negative number ("expire k -5", "--timeout -5") is an argument, never an option:
  // held back from parseArgs, which would call it an unknown option, and put back after.
  const held = new Map<string, string>();
  const args = argv.map((w, i) => {
    if (!/^-\.?\d/.test(w)) return w;
    held.set(`\0${i}`, w);
    return `\0${i}`;
  });
  const parsed = parseArgs({
    args,
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
      'client-id': { type: 'string' },
      json: { type: 'boolean' },
      run: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'no-trace': { type: 'boolean' },
      'rejoin-empty': { type: 'boolean' },
      join: { type: 'string' },
      learner: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const back = (w: string) => held.get(w) ?? w;
  const positionals = parsed.positionals.map(back);
  const values = parsed.values;
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') (values as Record<string, unknown>)[k] = back(v);
  const [command, ...rest] = positionals;
  if (command === undefined || command === 'help') {
    console.log(USAGE);
    return;
  }
  // A command's --help is its own usage, not the whole text (chaos, trace and report
  // answered it above; check has more to say than its line in the usage text).
  if (values.help && command === 'check') {
    const { CHECK_HELP } = await import('./check-command.ts');
    console.log(CHECK_HELP);
    return;
  }
  if (values.help) {
    const text = commandUsage(positionals);
    if (text === null) throw new UsageError(`unknown command "${positionals.slice(0, 2).join(' ')}"`, false);
    console.log(`${text}\n\n(raftkv --help lists every command)`);
    return;
  }
  if (command === 'node') {
    if (!values.id) throw new UsageError('node needs --id <serverId>');
    const { runNode } = await import('./node-command.ts');
    if (values.join !== undefined && !isHostPort(values.join)) throw new UsageError(`--join needs the host:port of a member of the running cluster (got "${values.join}")`);
    return runNode(resolveConfig(values.config).config, values.id, { rejoinEmpty: values['rejoin-empty'] ?? false, ...(values.join !== undefined ? { join: values.join } : {}) });
  }
  if (command === 'member' || command === 'leader') {
    const action = memberAction(command, rest, values.learner ?? false);
    const timeoutMs = positiveInt(values.timeout ?? (action.kind === 'add' ? '120000' : '15000'), '--timeout');
    const { runMemberCommand } = await import('./member-command.ts');
    return runMemberCommand(resolveConfig(values.config).config, action, timeoutMs);
  }
  if (command === 'cluster') {
    const sub = rest[0];
    if (sub === 'down' || sub === 'restart' || sub === 'kill') {
      // The options these take; any other (known to other commands) is refused, not ignored.
      const allowed = sub === 'restart' ? ['config', 'data', 'rejoin-empty'] : ['config', 'data'];
      const stray = Object.keys(values).filter((k) => !allowed.includes(k));
      if (stray.length > 0) throw new UsageError(`cluster ${sub} does not take ${stray.map((k) => `--${k}`).join(', ')} (it takes ${allowed.map((k) => `--${k}`).join(', ')})`);
      const config = clusterConfigFor(values.config, values.data);
      const { runClusterAction, runClusterDown } = await import('./cluster-command.ts');
      if (sub === 'down') {
        if (rest.length !== 1) throw new UsageError('cluster down takes no arguments');
        return runClusterDown(config);
      }
      if (rest.length !== 2) throw new UsageError(`cluster ${sub} takes one server id: raftkv cluster ${sub} <serverId>`);
      if (!config.servers.some((s) => s.id === rest[1])) throw new UsageError(`no server "${rest[1]}" in the config (servers: ${config.servers.map((s) => s.id).join(', ')})`);
      return runClusterAction(config, sub, rest[1], { rejoinEmpty: values['rejoin-empty'] === true });
    }
    if (sub !== 'up') throw new UsageError('cluster takes "up", "down", "restart <serverId>" or "kill <serverId>"');
    const nodes = positiveInt(values.nodes ?? '7', '--nodes');
    const basePort = positiveInt(values['base-port'] ?? '7100', '--base-port');
    // Servers listen on basePort .. basePort + nodes - 1, each a TCP port (1-65535).
    const highest = 65535 - nodes + 1;
    if (basePort > highest) {
      throw new UsageError(`--base-port must be 1-${highest} for ${nodes} nodes (their ports run from it to it + ${nodes - 1}, at most 65535; got ${basePort})`);
    }
    const { clusterUp } = await import('./cluster-command.ts');
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
    const host = values.host ?? '127.0.0.1';
    if (!/^[\w.:-]+$/.test(host)) throw new UsageError(`--host must be a host name or IP address (got "${host}")`);
    // A name, not a path: --data says where runs go, and `..` or `/` would write outside it.
    if (values.run !== undefined && (!/^[\w.@+-]+$/.test(values.run) || /^\.+$/.test(values.run))) {
      throw new UsageError(`--run takes a run name (letters, digits, . _ - + @), not a path (got "${values.run}"); --data chooses the directory runs go in`);
    }
    const { runTraceServer } = await import('./trace-server-command.ts');
    const { runName } = await import('../../tracing/collector.ts');
    // An IPv6 address goes in brackets: [::1]:7200.
    return runTraceServer({ dir: values.data ?? 'traces', run: values.run ?? runName(), unique: values.run === undefined, addr: `${host.includes(':') ? `[${host}]` : host}:${port}` });
  }
  if (command === 'check') {
    if (rest.length !== 1) throw new UsageError('check takes one run directory: raftkv check <runDir>');
    const { runCheckCommand } = await import('./check-command.ts');
    return runCheckCommand(rest[0]);
  }
  if (command === 'tui') {
    // ink and react stay out of every other command.
    const { attachTui } = await import('../tui/run.ts');
    const { config, path: configPath } = resolveConfig(values.config);
    process.exit(await attachTui({ config, configPath }));
  }
  if (command === 'status') {
    const { printStatus } = await import('./client-command.ts');
    const { managedColumn } = await import('./cluster-command.ts');
    const { joinedServers } = await import('../cluster/stored-membership.ts');
    const founders = resolveConfig(values.config).config;
    // Members that joined later are not in cluster.json: their data directories name them.
    const config = { ...founders, servers: [...founders.servers, ...joinedServers(founders.dataDir, founders.servers)] };
    const managed = managedColumn(config);
    await printStatus(config, managed ?? undefined);
    if (managed) console.log(managed.note);
    return process.exitCode === undefined ? EXIT.OK : Number(process.exitCode);
  }
  if (command === 'retry' || opName(command) !== null) {
    let op = null;
    if (command === 'retry') {
      if (rest.length > 0) throw new UsageError('retry takes no arguments: raftkv retry --client-id <id>');
      if (values['client-id'] === undefined) throw new UsageError('retry needs --client-id <id> (the one the unknown outcome named)');
    } else {
      const parsed = parseOp(command, rest);
      if (!parsed.ok) throw new UsageError(parsed.error);
      op = parsed.op;
      // One write per key: "mput a=1 a=2" would write a once and still count 2 pairs.
      if (op.type === 'mput') {
        const seen = new Set<string>();
        for (const { key } of op.pairs) {
          if (seen.has(key)) throw new UsageError(`mput: key "${key}" is given twice; give each key once`);
          seen.add(key);
        }
      }
    }
    const timeoutMs = positiveInt(values.timeout ?? '10000', '--timeout');
    const config = resolveConfig(values.config).config;
    const { runClientCommand } = await import('./client-command.ts');
    return runClientCommand(config, op, {
      serverId: values.server,
      timeoutMs,
      // --timeout counts from here, its code loaded: start-up is Node's (tsx's), not the cluster's.
      startedAt: Date.now(),
      clientId: values['client-id'],
      command: [command, ...rest].map(describeWord).join(' '),
      configPath: values.config,
      json: values.json === true,
    });
  }
  throw new UsageError(`unknown command "${command}"`, false);
}

/** The membership command `raftkv member ...` / `raftkv leader transfer [<id>]` asks for; UsageError when malformed. */
function memberAction(command: string, rest: string[], learner: boolean): MemberAction {
  const [sub, ...args] = rest;
  const need = (n: number, shape: string) => {
    if (args.length !== n) throw new UsageError(`${command} ${sub} takes ${shape}: raftkv ${command} ${sub} ${shape}`);
  };
  if (learner && !(command === 'member' && sub === 'add')) throw new UsageError('--learner goes with member add only');
  if (command === 'leader') {
    if (sub !== 'transfer') throw new UsageError('leader takes "transfer [<serverId>]"');
    if (args.length > 1) throw new UsageError('leader transfer takes at most one server id: raftkv leader transfer [<serverId>]');
    return { kind: 'transfer', target: args[0] ?? '' };
  }
  switch (sub) {
    case 'list':
      need(0, '(no arguments)');
      return { kind: 'list' };
    case 'add': {
      need(2, '<serverId> <host:port>');
      const idProblem = serverIdProblem(args[0]);
      if (idProblem !== null) throw new UsageError(`member add: the server id ${idProblem}`);
      if (!isHostPort(args[1])) throw new UsageError(`member add: the address must be host:port with a port 1-65535 (got "${args[1]}")`);
      return { kind: 'add', id: args[0], addr: args[1], learner };
    }
    case 'promote':
    case 'remove':
      need(1, '<serverId>');
      return { kind: sub, id: args[0] };
    default:
      throw new UsageError('member takes "list", "add <serverId> <host:port> [--learner]", "promote <serverId>" or "remove <serverId>"');
  }
}

/** The cluster a `cluster down|restart|kill` means: --config, else <--data>/cluster.json, else as other commands. */
function clusterConfigFor(configFlag: string | undefined, dataFlag: string | undefined): ClusterConfig {
  if (configFlag !== undefined || dataFlag === undefined) return resolveConfig(configFlag).config;
  const file = path.join(dataFlag, 'cluster.json');
  return existsSync(file) ? loadConfig(file) : { ...defaultConfig(), dataDir: path.resolve(dataFlag) };
}

/** A word of the command for messages: quoted when it needs to be, cut when long. */
function describeWord(w: string): string {
  const cut = w.length > 40 ? `${w.slice(0, 20)}...(${Buffer.byteLength(w)} bytes)` : w;
  return cut === '' || /[\s"'\\$`]/.test(cut) ? JSON.stringify(cut) : cut;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer (got "${text}")`);
  return n;
}

/** Exits once stdout and stderr have taken what was written (a pipe may still hold it). */
function exit(code: number): void {
  let pending = 2;
  const done = () => --pending === 0 && process.exit(code);
  process.stdout.write('', done);
  process.stderr.write('', done);
}

main(process.argv.slice(2)).then(
  (code) => {
    // A finished client command exits now: nothing it started (gRPC channels, timers)
    // may hold the process open. Servers, the tracing server and the UI return no code.
    if (typeof code === 'number') exit(code);
  },
  (err: Error) => {
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      // The whole usage text only where it is the answer (an unknown command): after a
      // bad option or argument it buried the one line that says what was wrong.
      const brief = !(err instanceof UsageError) || err.brief;
      console.error(`raftkv: ${argsErrorMessage(err)}${brief ? '\n(raftkv --help lists every command and option)' : `\n\n${USAGE}`}`);
      exit(EXIT.USAGE);
    } else if (err.name === 'ClusterCommandError') {
      // A refusal that explains itself (a cluster already running, no supervisor): nothing was done.
      console.error(`raftkv: ${err.message}`);
      exit(EXIT.FAILED);
    } else if (err instanceof ConfigError) {
      console.error(`raftkv: ${err.message}`);
      exit(EXIT.USAGE);
    } else {
      console.error(`raftkv: error: ${err.message}`);
      exit(EXIT.FAILED);
    }
  },
);
