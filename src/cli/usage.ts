export class UsageError extends Error {
  override name = 'UsageError';

  /**
   * `brief` (the default): the message and a pointer to --help; false: the whole usage
   * text after it (an unknown command, where the list of commands is the answer).
   */
  constructor(
    message: string,
    readonly brief = true,
  ) {
    super(message);
  }
}

/** One command's lines of the usage text: `command` is the words that name it ("cluster up", "get"). */
export interface CommandEntry {
  command: string;
  text: string;
}

/**
 * A section of the usage text: its heading, its commands, and the options they share,
 * printed after the commands in `raftkv --help` and in each command's own `--help`.
 */
interface Section {
  heading: string;
  entries: CommandEntry[];
  shared?: string;
}

// The usage text lives here once, as each command's lines: `raftkv --help` prints them
// all (USAGE), `raftkv <command> --help` that command's (commandUsage).
const SECTIONS: Section[] = [
  {
    heading: 'Servers:',
    entries: [
      {
        command: 'node',
        text: `  raftkv node --id <serverId> [--config <file>]     run one server (its data directory is locked
                                                    while it runs; on a cluster up's config, that
                                                    supervisor adopts it)
         [--rejoin-empty]                           if its log.db lost entries it had acknowledged
                                                    (or is damaged), set it aside and rejoin with an
                                                    empty log (no votes until it has caught up)
  raftkv node --id <serverId> --join <host:port> [--config <file>]
                                                    start a server that is not in the config's
                                                    servers and join the running cluster of the
                                                    member at host:port (add it first with
                                                    "member add"); it receives the log or a snapshot`,
      },
      {
        command: 'cluster up',
        text: `  raftkv cluster up [--nodes N] [--base-port P] [--data <dir>] [--config <file>] [--no-trace]
                                                    start N servers (default 7, ports from 7100;
                                                    or those of --config) and a tracing server
                                                    writing traces/<run>/, and supervise them: a
                                                    server that dies is reported. Writes
                                                    <dir>/cluster.json (default data/); refuses if
                                                    a cluster, server or port of it is in use.
                                                    Ctrl-C stops all`,
      },
      {
        command: 'cluster down',
        text: `  raftkv cluster down [--config <file> | --data <dir>]
                                                    stop a running cluster from any terminal (its
                                                    servers too when its supervisor was killed, and
                                                    every server on a directory under its data dir)`,
      },
      {
        command: 'cluster restart',
        text: `  raftkv cluster restart <serverId> [--rejoin-empty] [--config <file> | --data <dir>]
                                                    (re)start one server under the supervisor;
                                                    --rejoin-empty: as raftkv node --rejoin-empty`,
      },
      {
        command: 'cluster kill',
        text: `  raftkv cluster kill <serverId> [--config <file> | --data <dir>]
                                                    kill -9 one supervised server, on purpose`,
      },
      {
        command: 'trace-server',
        text: `  raftkv trace-server [--port P] [--data <traces dir>] [--run <name>] [--host H]
                                                    collect traces from servers and clients,
                                                    listening on H:P (default 127.0.0.1, a free port),
                                                    writing <traces dir>/<name>/ (default traces/,
                                                    a fresh name from the time)`,
      },
      {
        command: 'status',
        text: `  raftkv status [--config <file>]                   role, term, leader and indexes of each server,
                                                    members added since included (and, under
                                                    cluster up, each one's managed
                                                    state; exit 4 when none answers)`,
      },
      {
        command: 'tui',
        text: `  raftkv tui [--config <file>]                      terminal UI on a running cluster (npm start
                                                    launches a local cluster with the UI)`,
      },
    ],
  },
  {
    heading: "Membership (Raft §6; asks the config's servers, then the leader):",
    entries: [
      {
        command: 'member list',
        text: `  raftkv member list [--config <file>]              members, addresses, roles (voter, learner,
                                                    leaving) and, from the leader, match indexes`,
      },
      {
        command: 'member add',
        text: `  raftkv member add <serverId> <host:port> [--learner]
                                                    add a server as a learner, then (without
                                                    --learner) promote it to voter once its log is
                                                    within 1,000 entries of the leader's; start it
                                                    with "node --id <serverId> --join <member>"`,
      },
      {
        command: 'member promote',
        text: `  raftkv member promote <serverId>                  make a caught-up learner a voter`,
      },
      {
        command: 'member remove',
        text: `  raftkv member remove <serverId>                   remove a member (it stops); the leader hands
                                                    leadership over first when it is the one removed`,
      },
      {
        command: 'leader transfer',
        text: `  raftkv leader transfer [<serverId>]               hand leadership to that voter (default: the
                                                    most up-to-date one)`,
      },
    ],
    shared: `  options: --config <file> (the cluster); --timeout <ms> bounds the wait (default 15000,
           member add 120000)`,
  },
  {
    heading: 'Traces:',
    entries: [
      {
        command: 'check',
        text: `  raftkv check <runDir>                             grade a traced run (trace.jsonl, shiviz.log,
                                                    history.json, meta.json): PASS/FAIL per rule;
                                                    exit 0 all pass, 1 a rule failed, 2 no trace to read`,
      },
      {
        command: 'report',
        text: `  raftkv report <runDir> [-o|--out <file>] [--max-events N]
                                                    write one self-contained HTML page (default
                                                    <runDir>/report.html): a lane per process with
                                                    its messages, terms, client operations per key,
                                                    a linearizability counterexample, the rules
                                                    (exit codes as check; draws the first N events,
                                                    default 12000)`,
      },
      {
        command: 'trace slice',
        text: `  raftkv trace slice <runDir> [--trace-id ID]... [--hosts h1,h2] [--tags T1,T2] [--from F] [--to T]
         [--max-events N] [-o <file>]               a ShiViz log of just the selected events, valid on
                                                    its own (default <runDir>/slice.log); "raftkv
                                                    trace --help" says more`,
      },
    ],
  },
  {
    heading: 'Chaos (docs/CHAOS.md):',
    entries: [
      {
        command: 'chaos',
        text: `  raftkv chaos [--servers 5] [--duration 30s] [--seed S] [--faults kill,pause,partition,oneway,netsplit,clock,disk]
               [--clients 6] [--keys 5] [--trace] [--net links|namespaces] [--out <dir>]
                                                    break a fresh cluster of real processes at
                                                    random (a seeded schedule: kill -9, SIGSTOP,
                                                    partitions, one-way cuts, clock skew, slow
                                                    fsync) under client load, then heal, restart
                                                    all, read every key and grade the history (and
                                                    with --trace every trace rule). --net namespaces
                                                    (root): each server in its own network
                                                    namespace, cuts drop packets. Exit 0 no
                                                    violation, 1 a violation (seed printed), 2 bad
                                                    arguments, 130 Ctrl-C, 141 its output closed
                                                    (e.g. piped into head)`,
      },
    ],
    shared: `  --duration takes 15s, 2m, 1500ms or bare seconds (5s-60m); --servers 3-9, --clients 1-32,
  --keys 1-100, --seed 0-4294967295; each option once`,
  },
  {
    heading: 'Client (any server; followers forward to the leader), and what each prints:',
    entries: [
      { command: 'get', text: '  raftkv get <key>                the value (an empty line if the key is absent)' },
      { command: 'put', text: '  raftkv put <key> <value>        OK' },
      { command: 'del', text: '  raftkv del <key>                the value it removed (an empty line if there was none)' },
      { command: 'incr', text: '  raftkv incr <key>               the new value (a missing key counts from 0)' },
      { command: 'expire', text: '  raftkv expire <key> <seconds>   1: the key exists and is deleted that many seconds from now; 0: no such key' },
      { command: 'mget', text: '  raftkv mget <key>...            <key><TAB><value>, one line per key' },
      { command: 'mput', text: '  raftkv mput <key>=<value>...    the number of keys written (all or none; a key given twice is refused)' },
      { command: 'retry', text: "  raftkv retry --client-id <id>   finish <id>'s operation whose outcome was unknown; prints its result" },
    ],
    shared: `  options:
    --config <file>     the cluster (see below)
    --server <id>       the server to ask first (default: the first listed; any other if it is down)
    --timeout <ms>      bounds the whole command once started: connecting, retries, closing
                        (default 10000)
    --client-id <id>    a lasting client identity: the opIds of its operations continue from run to
                        run, and an operation whose outcome was unknown is re-sent with the same
                        opId (by "raftkv retry" or the same command again), never applied twice;
                        without it each run is a new client. State: $RAFTKV_STATE_DIR/clients/,
                        default ~/.local/state/raftkv/clients/
    --json              print the result as one line of JSON, {"op", "value"} (mget: {"op",
                        "values"}, by key), unambiguous for values holding newlines or tabs
  -h, --help            this text (with a command: that command's)`,
  },
];

const EXIT_CODES = `Exit codes:
  0  ok
  1  refused by the cluster (no space) or failed (e.g. incr on text): nothing was applied
  2  usage or config error, or input every server would refuse (an empty key, a TTL over
     10 years): nothing was sent
  3  outcome unknown: a write may or may not have taken effect; the message says how to
     finish it with "raftkv retry --client-id <id>" (safe: it is never applied twice)
  4  unavailable: no server answered, or no majority ("no majority: 2 of 5 servers
     reachable, 3 needed", or every server refused the connection); nothing was applied
  130  interrupted (Ctrl-C, SIGTERM): the message says whether anything was sent; a write
     in flight is an unknown outcome, with its retry as for 3 (a second Ctrl-C exits at once)`;

const CONFIG_NOTE = `Without --config, commands use data/cluster.json (written by "cluster up"), else the
default: 7 servers on 127.0.0.1:7100-7106 with data under data/<serverId>/.`;

/** `raftkv --help`: every command, by section, then the exit codes and where the config comes from. */
export const USAGE = [
  'raftkv - a traced Raft key-value store',
  ...SECTIONS.map((s) => [s.heading, ...s.entries.map((e) => e.text), ...(s.shared ? [s.shared] : [])].join('\n')),
  EXIT_CODES,
  CONFIG_NOTE,
].join('\n\n');

/** Every command the usage text describes, by the words that name it ("cluster up", "get"). */
export const COMMANDS: readonly string[] = SECTIONS.flatMap((s) => s.entries.map((e) => e.command));

/**
 * `raftkv <command> --help`: the usage text's lines for the command the leading words of
 * `words` name (`["cluster", "up"]`; extra words, such as a put's key, are ignored), or
 * for each command of a group when they name one (`["cluster"]`: up, down, restart,
 * kill), under their section's heading with the options they share, then the exit codes
 * (client commands) and where the config comes from (commands that take --config).
 * Null when the first word names no command.
 */
export function commandUsage(words: readonly string[]): string | null {
  const named = (e: CommandEntry) => e.command.split(' ').every((w, i) => words[i] === w);
  // A group named alone (`cluster --help`) lists its commands; a group with a word that
  // is none of its commands (`cluster foo --help`) is an unknown command.
  for (const exact of words.length === 1 ? [true, false] : [true]) {
    for (const s of SECTIONS) {
      const entries = s.entries.filter(exact ? named : (e) => e.command.split(' ')[0] === words[0]);
      if (entries.length === 0) continue;
      const lines = [s.heading, ...entries.map((e) => e.text), ...(s.shared ? [s.shared] : [])].join('\n');
      return [
        lines,
        ...(lines.includes('--client-id') ? [EXIT_CODES] : []),
        ...(lines.includes('--config') ? [CONFIG_NOTE] : []),
      ].join('\n\n');
    }
  }
  return null;
}

/**
 * A command-line error's text for the user (any Error; parseArgs' ones too). parseArgs'
 * unknown-option text ends in a broken quote (`as in '-- "--bogus"`): said here whole,
 * with the way to pass such a word as an argument.
 */
export function argsErrorMessage(err: Error): string {
  const unknown = (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '(.*?)'\./.exec(err.message) : null;
  if (unknown) return `unknown option ${unknown[1]} (an argument that starts with "-" goes after a "--": ... -- ${unknown[1]})`;
  return err.message;
}
