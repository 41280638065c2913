/** This server cannot order the operation: it is not (or no longer) the leader. */
export class NotLeaderError extends Error {
  constructor(
    readonly leaderId: string | null,
    message = `not the leader${leaderId ? ` (leader: ${leaderId})` : ' and no leader is known'}`,
  ) {
    super(message);
    this.name = 'NotLeaderError';
  }
}
