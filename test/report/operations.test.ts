import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../tracing/history.ts';
import { historyOps } from '../../tracing/report/operations.ts';

describe('report operation bars (tracing/report/operations.ts)', () => {
  it('draws the attempts of one operation (a retry with the same client and opId) as one bar, first call to answered return', () => {
    const incr = { type: 'incr', key: 'visits' } as const;
    const history: HistoryEntry[] = [
      // The first attempt exited 3 (outcome unknown); `raftkv retry` answered it later.
      { clientId: 'myc3', opId: 1, op: incr, call: 1000, return: 4000, error: 'outcome unknown' },
      { clientId: 'ann', opId: 1, op: { type: 'get', key: 'visits' }, call: 4500, return: 4600, output: { value: '7' } },
      { clientId: 'myc3', opId: 1, op: incr, call: 6000, return: 6020, output: { value: '7' } },
    ];
    const bars = historyOps(history);
    expect(bars.map((b) => b.id).sort()).toEqual(['ann:1', 'myc3:1']);
    const retried = bars.find((b) => b.id === 'myc3:1')!;
    expect(retried).toMatchObject({ call: 0, ret: 5020, outcome: 'ok', output: '"7"' });
    // Operations that were never retried are drawn as they were.
    expect(bars.find((b) => b.id === 'ann:1')).toMatchObject({ call: 3500, ret: 3600, outcome: 'ok' });
  });

  it('an operation no attempt of which was answered stays one unknown bar, from its first call', () => {
    const put = { type: 'put', key: 'k', value: 'v' } as const;
    const bars = historyOps([
      { clientId: 'c', opId: 4, op: put, call: 10, return: 50, error: 'timeout' },
      { clientId: 'c', opId: 4, op: put, call: 80, return: 120, error: 'timeout again' },
    ]);
    expect(bars).toHaveLength(1);
    expect(bars[0]).toMatchObject({ id: 'c:4', call: 0, ret: 110, outcome: 'unknown' });
  });
});
