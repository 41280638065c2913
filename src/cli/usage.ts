export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `raftkv - a traced Raft key-value store

Servers:
  raftkv node --id <serverId> [--config <file>]     run one server
         [--rejoin-empty]                           if its log.db lost entries it had acknowledged
                                                    (or is damaged), set it aside and rejoin with an
                                                    empty log (no votes until it has caught up)
  raftkv cluster up [--nodes N] [--base-port P] [--data <dir>] [--no-trace]
                                                    start N servers (default 7) and a tracing
                                                    server writing traces/<run>/; Ctrl-C stops all
  raftkv trace-server [--port P] [--data <traces dir>] [--run <name>]
                                                    collect traces from servers and clients
  raftkv status [--config <file>]                   role, term, leader and indexes of each server
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
