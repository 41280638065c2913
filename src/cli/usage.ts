export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `raftkv - a traced Raft key-value store

Servers:
  raftkv node --id <serverId> [--config <file>]     run one server (its data directory is locked
                                                    while it runs; on a cluster up's config, that
                                                    supervisor adopts it)
  raftkv cluster up [--nodes N] [--base-port P] [--data <dir>] [--config <file>] [--no-trace]
                                                    start N servers (default 7; or those of --config)
                                                    and a tracing server writing traces/<run>/, and
                                                    supervise them: a server that dies is reported.
                                                    Writes <dir>/cluster.json; refuses if a cluster,
                                                    server or port of it is in use. Ctrl-C stops all
  raftkv cluster down [--config <file> | --data <dir>]
                                                    stop a running cluster from any terminal (its
                                                    servers too when its supervisor was killed)
  raftkv cluster restart <serverId> [--config <file> | --data <dir>]
                                                    (re)start one server under the supervisor
  raftkv cluster kill <serverId> [--config <file> | --data <dir>]
                                                    kill -9 one supervised server, on purpose
  raftkv trace-server [--port P] [--data <traces dir>] [--run <name>]
                                                    collect traces from servers and clients
  raftkv status [--config <file>]                   role, term, leader and indexes of each server
                                                    (and, under cluster up, each one's managed state)
  raftkv tui [--config <file>]                      terminal UI on a running cluster (npm start
                                                    launches a local cluster with the UI)

Traces:
  raftkv check <runDir>                             grade a traced run (trace.jsonl, shiviz.log,
                                                    history.json, meta.json): PASS/FAIL per rule;
                                                    exit 0 all pass, 1 a rule failed, 2 unreadable trace

Client (any server; followers forward to the leader):
  raftkv get <key>               raftkv put <key> <value>
  raftkv del <key>               raftkv incr <key>
  raftkv expire <key> <seconds>  raftkv mget <key>...
  raftkv mput <key>=<value>...
  options: --config <file>  --server <serverId>  --timeout <ms> (default 10000)

Without --config, commands use data/cluster.json (written by "cluster up"), else the
default: 7 servers on 127.0.0.1:7100-7106 with data under data/<serverId>/.`;
