import { describe, expect, it } from 'vitest';
import { LogClock } from '../../src/server/log-clock.ts';

/** A clock pair the test moves by hand: monotonic ms and a wall clock with its own skew. */
function clocks(wallSkewMs = 0) {
  const t = { mono: 1_000, wall: 1_700_000_000_000 + wallSkewMs };
  const advance = (ms: number) => {
    t.mono += ms;
    t.wall += ms;
  };
  return { t, advance, make: () => new LogClock(() => t.mono, () => t.wall) };
}

describe('LogClock', () => {
  it('a brand-new cluster takes its origin from the first leader wall clock, then counts monotonic time', () => {
    const { t, advance, make } = clocks();
    const c = make();
    c.lead(0);
    expect(c.now()).toBe(t.wall);
    advance(250);
    expect(c.now()).toBe(t.wall);
  });

  it('a follower that becomes leader continues the log time it heard, not its own wall clock', () => {
    const fast = clocks(600_000); // the old leader runs 10 minutes fast
    const oldLeader = fast.make();
    oldLeader.lead(0);
    const stamp = oldLeader.now();
    const slow = clocks(0);
    const follower = slow.make();
    follower.observe(stamp);
    slow.advance(1_000); // an election later
    follower.lead(stamp);
    // Continues from the stamp plus the time since it was heard: a TTL of 60 s set now
    // lasts 60 s, whatever either wall clock says.
    expect(follower.now()).toBe(stamp + 1_000);
    expect(Math.abs(follower.now() - slow.t.wall)).toBeGreaterThan(500_000);
  });

  it('never runs backwards: an older stamp or a lower log floor is ignored', () => {
    const { advance, make } = clocks();
    const c = make();
    c.observe(5_000_000);
    advance(100);
    const before = c.now();
    c.observe(4_000_000);
    expect(c.now()).toBeGreaterThanOrEqual(before);
    c.lead(1);
    expect(c.now()).toBeGreaterThanOrEqual(before);
  });

  it('a restarted cluster continues from the newest ts in its log, never from a wall clock', () => {
    const { make } = clocks(-3_600_000); // this server's clock is an hour slow
    const c = make();
    c.lead(1_800_000_000_000);
    expect(c.now()).toBe(1_800_000_000_000);
  });

  it('ignores stamps that are not times (an old peer that sends none)', () => {
    const { make } = clocks();
    const c = make();
    c.observe(0);
    c.observe(Number.NaN);
    c.lead(42);
    expect(c.now()).toBe(42);
  });
});
