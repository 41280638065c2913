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

export const USAGE = `raftkv - a traced Raft key-value store

Servers:
  raftkv node --id <serverId> [--config <file>]     run one server (its data directory is locked
                                                    while it runs; on a cluster up's config, that
                                                    supervisor adopts it)
         [--rejoin-empty]                           if its log.db lost entries it had acknowledged
                                                    (or is damaged), set it aside and rejoin with an
                                                    empty log (no votes until it has caught up)
  raftkv node --id <serverId> --join <host:port> [--config <file>]
                                                    start a server that is not in the config's
                                                    servers and join the running cluster of the
                                                    member at host:port (add it first with
                                                    "member add"); it receives the log or a snapshot
  raftkv cluster up [--nodes N] [--base-port P] [--data <dir>] [--config <file>] [--no-trace]
                                                    start N servers (default 7, ports from 7100;
                                                    or those of --config) and a tracing server
                                                    writing traces/<run>/, and supervise them: a
                                                    server that dies is reported. Writes
                                                    <dir>/cluster.json; refuses if a cluster,
                                                    server or port of it is in use. Ctrl-C stops all
  raftkv cluster down [--config <file> | --data <dir>]
                                                    stop a running cluster from any terminal (its
                                                    servers too when its supervisor was killed)
  raftkv cluster restart <serverId> [--config <file> | --data <dir>]
                                                    (re)start one server under the supervisor
  raftkv cluster kill <serverId> [--config <file> | --data <dir>]
                                                    kill -9 one supervised server, on purpose
  raftkv trace-server [--port P] [--data <traces dir>] [--run <name>] [--host H]
                                                    collect traces from servers and clients,
                                                    listening on H:P (default 127.0.0.1, a free port)
  raftkv status [--config <file>]                   role, term, leader and indexes of each server,
                                                    members added since included (and, under
                                                    cluster up, each one's managed
                                                    state; exit 4 when none answers)
  raftkv tui [--config <file>]                      terminal UI on a running cluster (npm start
                                                    launches a local cluster with the UI)

Membership (Raft §6; asks the config's servers, then the leader):
  raftkv member list [--config <file>]              members, addresses, roles (voter, learner,
                                                    leaving) and, from the leader, match indexes
  raftkv member add <serverId> <host:port> [--learner]
                                                    add a server as a learner, then (without
                                                    --learner) promote it to voter once its log is
                                                    within 1,000 entries of the leader's; start it
                                                    with "node --id <serverId> --join <member>"
                                                    (--timeout, default 120000 ms, bounds the wait)
  raftkv member promote <serverId>                  make a caught-up learner a voter
  raftkv member remove <serverId>                   remove a member (it stops); the leader hands
                                                    leadership over first when it is the one removed
  raftkv leader transfer [<serverId>]               hand leadership to that voter (default: the
                                                    most up-to-date one)

Traces:
  raftkv check <runDir>                             grade a traced run (trace.jsonl, shiviz.log,
                                                    history.json, meta.json): PASS/FAIL per rule;
                                                    exit 0 all pass, 1 a rule failed, 2 unreadable trace
  raftkv report <runDir> [-o|--out <file>] [--max-events N]
                                                    write one self-contained HTML page (default
                                                    <runDir>/report.html): a lane per process with
                                                    its messages, terms, client operations per key,
                                                    a linearizability counterexample, the rules
                                                    (exit codes as check; draws the first N events,
                                                    default 12000)
  raftkv trace slice <runDir> [--trace-id ID]... [--hosts h1,h2] [--tags T1,T2] [--from F] [--to T]
         [--max-events N] [-o <file>]               a ShiViz log of just the selected events, valid on
                                                    its own (default <runDir>/slice.log); "raftkv
                                                    trace --help" says more

Chaos (docs/CHAOS.md):
  raftkv chaos [--servers 5] [--duration 30s] [--seed S] [--faults kill,pause,partition,oneway,netsplit,clock,disk]
               [--clients 6] [--keys 5] [--trace] [--net links|namespaces] [--out <dir>]
                                                    break a fresh cluster of real processes at
                                                    random (a seeded schedule: kill -9, SIGSTOP,
                                                    partitions, one-way cuts, clock skew, slow
                                                    fsync) under client load, then heal, restart
                                                    all, read every key and grade the history (and
                                                    with --trace every trace rule). --net namespaces
                                                    (root): each server in its own network
                                                    namespace, cuts drop packets. Exit 0 no
                                                    violation, 1 a violation (seed printed), 130 Ctrl-C

Client (any server; followers forward to the leader), and what each prints:
  raftkv get <key>                the value (an empty line if the key is absent)
  raftkv put <key> <value>        OK
  raftkv del <key>                the value it removed (an empty line if there was none)
  raftkv incr <key>               the new value (a missing key counts from 0)
  raftkv expire <key> <seconds>   1: the key exists and is deleted that many seconds from now; 0: no such key
  raftkv mget <key>...            <key><TAB><value>, one line per key
  raftkv mput <key>=<value>...    the number of pairs written (all or none)
  raftkv retry --client-id <id>   finish <id>'s operation whose outcome was unknown; prints its result
  options:
    --config <file>     the cluster (see below)
    --server <id>       the server to ask first (default: the first listed; any other if it is down)
    --timeout <ms>      bounds the whole command once started: connecting, retries, closing
                        (default 10000)
    --client-id <id>    a lasting client identity: the opIds of its operations continue from run to
                        run, and an operation whose outcome was unknown is re-sent with the same
                        opId (by "raftkv retry" or the same command again), never applied twice;
                        without it each run is a new client. State: $RAFTKV_STATE_DIR/clients/,
                        default ~/.local/state/raftkv/clients/
  -h, --help            this text

Exit codes:
  0  ok
  1  refused (invalid input) or failed (e.g. incr on text): nothing was applied
  2  usage or config error: nothing was attempted
  3  outcome unknown: a write may or may not have taken effect; the message says how to
     finish it with "raftkv retry --client-id <id>" (safe: it is never applied twice)
  4  unavailable: no server answered, or no majority ("no majority: 2 of 5 servers
     reachable, 3 needed"); nothing was applied

Without --config, commands use data/cluster.json (written by "cluster up"), else the
default: 7 servers on 127.0.0.1:7100-7106 with data under data/<serverId>/.`;
