import { describe, expect, it } from 'vitest';
import { describeFault, FAULT_KINDS, formatSchedule, parseFaultKinds, planSchedule } from '../../src/chaos/schedule.ts';

describe('chaos fault schedule', () => {
  it('is a function of the seed: the same seed plans the same faults, another seed others', () => {
    const opts = { durationMs: 60_000, kinds: FAULT_KINDS };
    for (const seed of [1, 42, 2 ** 31 - 1]) {
      const a = planSchedule({ ...opts, seed });
      const b = planSchedule({ ...opts, seed });
      expect(b, `seed ${seed}`).toEqual(a);
      expect(formatSchedule(b)).toBe(formatSchedule(a));
      expect(planSchedule({ ...opts, seed: seed + 1 }), `seed ${seed} + 1`).not.toEqual(a);
    }
  });

  it('runs faults one at a time inside the duration, of the kinds asked for only', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const durationMs = 5000 + (seed % 7) * 5000;
      const kinds = seed % 2 === 0 ? (['kill', 'netsplit'] as const) : (['oneway', 'clock', 'disk'] as const);
      const faults = planSchedule({ seed, durationMs, kinds });
      expect(faults.length, `seed ${seed}`).toBeGreaterThan(0);
      let previousEnd = 0;
      for (const f of faults) {
        expect(kinds as readonly string[], `seed ${seed}`).toContain(f.kind);
        expect(f.atMs, `seed ${seed} fault ${f.n}`).toBeGreaterThanOrEqual(previousEnd);
        expect(f.durationMs).toBeGreaterThan(0);
        expect(f.atMs + f.durationMs, `seed ${seed} fault ${f.n}`).toBeLessThanOrEqual(durationMs);
        previousEnd = f.atMs + f.durationMs;
      }
    }
  });

  it('uses every kind and every shape across seeds', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 100; seed++) for (const f of planSchedule({ seed, durationMs: 60_000, kinds: FAULT_KINDS })) seen.add(`${f.kind}/${f.variant}`);
    for (const shape of ['kill/leader', 'kill/two', 'kill/two-followers', 'kill/majority', 'pause/leader', 'partition/isolate-leader', 'netsplit/majority-minority', 'netsplit/bridge', 'netsplit/ring', 'oneway/leader-deaf', 'oneway/leader-mute', 'oneway/follower-deaf', 'clock/skew', 'disk/slow-all']) {
      expect(seen, shape).toContain(shape);
    }
  });

  it('names whom a fault hits in words, and the servers it hit once injected', () => {
    const f = { n: 1, kind: 'kill', variant: 'two', target: { role: 'leader' }, atMs: 0, durationMs: 1000, seed: 1 } as const;
    expect(describeFault(f)).toBe('kill(leader+follower)');
    expect(describeFault(f, ['s2', 's4'])).toBe('kill(leader+follower -> s2,s4)');
    expect(describeFault({ ...f, variant: 'follower', target: { role: 'follower', index: 913 } }, ['s3'])).toBe('kill(a follower -> s3)');
    expect(describeFault({ ...f, kind: 'clock', variant: 'skew', amount: -1200, target: { role: 'any', index: 570 } })).toBe('clock(skew -1200 ms, any server)');
    for (let seed = 1; seed <= 50; seed++) expect(formatSchedule(planSchedule({ seed, durationMs: 60_000, kinds: FAULT_KINDS }))).not.toMatch(/#\d+[,)]/);
  });

  it('refuses unknown fault kinds by name', () => {
    expect(parseFaultKinds('kill, pause,kill')).toEqual(['kill', 'pause']);
    expect(() => parseFaultKinds('kill,meteor')).toThrow(/kill, pause, partition, oneway, netsplit, clock, disk \(got "kill,meteor"\)/);
    expect(() => parseFaultKinds('')).toThrow(/--faults/);
  });
});
