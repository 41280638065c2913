import { scenario as s01 } from './01-leader-election.ts';
import { scenario as s02 } from './02-put-then-get.ts';
import { scenario as s03 } from './03-get-then-put.ts';
import { scenario as s04 } from './04-async-order.ts';
import { scenario as s05 } from './05-leader-reelection.ts';
import { scenario as s06, scenarioLeader as s06b } from './06-mid-request-failure.ts';
import { scenario as s07 } from './07-state-sync.ts';
import { scenario as s08 } from './08-sync-from-new-leader.ts';
import { scenario as s09 } from './09-failure-and-recovery.ts';
import { scenario as s10 } from './10-majority-loss.ts';
import { scenario as s11 } from './11-full-restart-durability.ts';
import { scenario as s12 } from './12-log-matching.ts';
import { scenario as s13 } from './13-follower-churn.ts';
import { scenario as s14 } from './14-paused-leader.ts';
import { scenario as s15 } from './15-snapshot-install.ts';
import { scenario as s16 } from './16-bulk-restart.ts';
import type { ScenarioDef } from './scenario.ts';

export const SCENARIOS: ScenarioDef[] = [s01, s02, s03, s04, s05, s06, s06b, s07, s08, s09, s10, s11, s12, s13, s14, s15, s16];
