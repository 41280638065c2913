/**
 * A known bug switched on by environment, so a test can show that the checks of a chaos
 * run (`raftkv chaos`, docs/CHAOS.md) catch a broken build: RAFTKV_INJECT_BUG=<name>.
 * Never set it outside such a test.
 *
 * - `stale-read`: a follower answers reads from its own state machine, without asking
 *   the leader (no ReadIndex, Raft §8): it returns values older than writes already
 *   acknowledged, which the linearizability check must report.
 */
export const INJECTABLE_BUGS = ['stale-read'] as const;
export type InjectableBug = (typeof INJECTABLE_BUGS)[number];

/** The bug this process runs with, or null. Throws on a name not in INJECTABLE_BUGS. */
export function injectedBug(env: NodeJS.ProcessEnv = process.env): InjectableBug | null {
  const name = env.RAFTKV_INJECT_BUG;
  if (name === undefined || name === '') return null;
  if (!(INJECTABLE_BUGS as readonly string[]).includes(name)) throw new Error(`RAFTKV_INJECT_BUG=${name}: no such bug (known: ${INJECTABLE_BUGS.join(', ')})`);
  return name as InjectableBug;
}
