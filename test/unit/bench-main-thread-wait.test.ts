import { describe, expect, it } from 'vitest';
import { mainThreadWaitMs } from '../../bench/procs.js';

describe('bench: the serving thread’s wait for a CPU', () => {
  it.runIf(process.platform === 'linux')('reads the main thread’s run-queue wait, which only grows', () => {
    const before = mainThreadWaitMs(process.pid)!;
    const until = performance.now() + 20;
    while (performance.now() < until); // some run time
    expect(before).toBeGreaterThanOrEqual(0);
    expect(mainThreadWaitMs(process.pid)!).toBeGreaterThanOrEqual(before);
  });

  it('is undefined for a process that is gone', () => {
    expect(mainThreadWaitMs(2 ** 22 + 1)).toBeUndefined();
  });
});
