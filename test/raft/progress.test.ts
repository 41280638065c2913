import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/raft/progress.ts';

describe('Progress (flow control toward one follower)', () => {
  it('starts probing just past the leader\'s last index', () => {
    const pr = new Progress(10, 4);
    expect([pr.state, pr.nextIndex, pr.matchIndex, pr.isPaused()]).toEqual(['probe', 11, 0, false]);
  });

  it('probe: one message at a time, until a reply or a heartbeat', () => {
    const pr = new Progress(10, 4);
    pr.sent(10, 0, 0);
    expect(pr.isPaused()).toBe(true);
    // Probing does not move nextIndex optimistically.
    expect(pr.nextIndex).toBe(11);
    pr.heartbeat();
    expect(pr.isPaused()).toBe(false);
    pr.sent(12, 2, 0);
    expect(pr.isPaused()).toBe(true);
    expect(pr.nextIndex).toBe(11);
  });

  it('a success while probing switches to replicate just past the match', () => {
    const pr = new Progress(10, 4);
    pr.sent(10, 0, 0);
    expect(pr.acknowledge(10)).toBe(true);
    expect([pr.state, pr.matchIndex, pr.nextIndex, pr.isPaused()]).toEqual(['replicate', 10, 11, false]);
  });

  it('replicate: streams optimistically up to maxInflight messages, then pauses', () => {
    const pr = new Progress(0, 3);
    pr.acknowledge(1);
    expect(pr.state).toBe('replicate');
    pr.sent(3, 2, 0);
    pr.sent(5, 2, 0);
    expect([pr.nextIndex, pr.isPaused()]).toEqual([6, false]);
    // An empty heartbeat neither moves nextIndex nor uses a slot.
    pr.sent(5, 0, 0);
    expect([pr.nextIndex, pr.isPaused()]).toEqual([6, false]);
    pr.sent(7, 2, 0);
    expect([pr.nextIndex, pr.isPaused()]).toEqual([8, true]);
    // A heartbeat does not unpause a full pipeline; an acknowledgement does.
    pr.heartbeat();
    expect(pr.isPaused()).toBe(true);
    expect(pr.acknowledge(3)).toBe(true);
    expect([pr.matchIndex, pr.isPaused()]).toEqual([3, false]);
    // One acknowledgement can free several slots.
    pr.sent(9, 2, 0);
    expect(pr.isPaused()).toBe(true);
    pr.acknowledge(9);
    expect([pr.matchIndex, pr.nextIndex, pr.isPaused()]).toEqual([9, 10, false]);
  });

  it('an old or duplicate acknowledgement teaches nothing and never moves matchIndex back', () => {
    const pr = new Progress(0, 8);
    pr.acknowledge(5);
    expect(pr.acknowledge(5)).toBe(false);
    expect(pr.acknowledge(3)).toBe(false);
    expect([pr.matchIndex, pr.nextIndex]).toEqual([5, 6]);
  });

  it('an acknowledgement ahead of nextIndex pulls nextIndex along', () => {
    const pr = new Progress(0, 8);
    pr.acknowledge(1);
    pr.acknowledge(7);
    expect(pr.nextIndex).toBe(8);
  });

  it('a rejection drops back to probing, never below the known match', () => {
    const pr = new Progress(0, 2);
    pr.acknowledge(4);
    pr.sent(6, 2, 0);
    pr.sent(8, 2, 0);
    expect(pr.isPaused()).toBe(true);
    pr.rejectTo(6);
    expect([pr.state, pr.nextIndex, pr.isPaused()]).toEqual(['probe', 6, false]);
    pr.rejectTo(2);
    expect(pr.nextIndex).toBe(5);
    // Back to replicate on the next success, from the match it reports.
    pr.sent(4, 0, 0);
    pr.acknowledge(6);
    expect([pr.state, pr.matchIndex, pr.nextIndex]).toEqual(['replicate', 6, 7]);
  });
});
