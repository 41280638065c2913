import type { OpOutcome } from '../client/kv-client.ts';
import type { ClientOp } from '../kv/command.ts';
import type { ServerEntry } from '../server/config.ts';
import type { WireAdminResult, WireMemberList, WireStatus } from '../transport/wire.ts';

/**
 * What the UI needs from the world, as interfaces: run.ts passes the real processes and
 * clients, the tests pass fakes.
 */

/** A server process as this UI knows it: not running, running, or stopped by SIGSTOP. */
type ProcessState = 'down' | 'up' | 'paused';

/**
 * What the UI can do to server processes. ProcessCluster (src/cluster/process-cluster.ts)
 * has this shape, so a cluster the UI launched is passed as it is; an attached cluster has none.
 */
export interface ClusterControl {
  readonly ids: string[];
  state(id: string): ProcessState;
  pid(id: string): number | undefined;
  kill(id: string): Promise<void>;
  restart(id: string): Promise<void>;
  pause(id: string): void;
  resume(id: string): void;
  partition(groups: string[][]): Promise<void>;
  heal(): Promise<void>;
}

/** The client operations the UI runs (KvClient has this shape). */
export interface KvOps {
  execute(op: ClientOp): Promise<OpOutcome>;
  stop(): Promise<void>;
}

export interface TraceInfo {
  /** The run's directory (shiviz.log, trace.jsonl, history.json), if known. */
  dir: string | null;
  /** host:port of the tracing server, or null when the cluster traces nowhere. */
  addr: string | null;
  /** Why the directory is unknown, when it is. */
  note?: string;
  /** The UI's own client id in the trace. */
  clientId?: string;
}

export interface ControllerDeps {
  servers: ServerEntry[];
  /** null: attached to a cluster this UI did not start. */
  cluster: ClusterControl | null;
  /** Starts the KV client; called again after a failure. */
  connect(): Promise<KvOps>;
  /**
   * One server's status (rejects when it does not answer). Called for the servers given
   * and for members learned later from members(), so it must know their addresses too.
   */
  status(id: string): Promise<WireStatus>;
  /** The configuration as some server reports it, the leader preferred (rejects when none answers). */
  members(): Promise<MemberAnswer>;
  /** Membership changes and leadership transfer, sent to the leader. */
  admin(): MembershipAdmin;
  trace(): Promise<TraceInfo>;
  /** Asked to quit (quit command). */
  onQuit?(): void;
  /** Where the cluster's config is, shown in hints. */
  configPath?: string | null;
}

/**
 * A MemberList and which server sent it. Only the leader knows how far each member's log
 * matches (others answer matchIndex 0), so a learner's progress counts only when `from` leads.
 */
export interface MemberAnswer extends WireMemberList {
  from: string;
}

/** An AdminResult and the servers asked for it, in order: the last one gave the result. */
export interface AdminAnswer {
  result: WireAdminResult;
  asked: string[];
}

/**
 * Membership changes (Raft §6) and leadership transfer. Only the leader makes them: a
 * follower answers NOT_LEADER naming the leader, and the implementation asks that one
 * once. Rejects only when a server asked does not answer at all.
 */
export interface MembershipAdmin {
  add(id: string, addr: string, learner: boolean): Promise<AdminAnswer>;
  promote(id: string): Promise<AdminAnswer>;
  remove(id: string): Promise<AdminAnswer>;
  /** '' : the server picks the most up-to-date other voter. */
  transfer(target: string): Promise<AdminAnswer>;
}
