import { describe, expect, it } from 'vitest';
import { retryWhileBusy } from '../../src/store/sqlite-no-wait.js';

const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

describe('retryWhileBusy (opening a database at start-up)', () => {
  it('tries again while SQLite answers busy, also when the busy error is the cause of a wrapped one', () => {
    let calls = 0;
    const open = () => {
      calls++;
      if (calls === 1) throw busy();
      if (calls === 2) throw new Error('cannot open route database x: database is locked', { cause: busy() });
      return 'opened';
    };
    expect(retryWhileBusy(open, 5_000)).toBe('opened');
    expect(calls).toBe(3);
  });

  it('throws any other error at once, and a busy one once the time is up', () => {
    let calls = 0;
    expect(() => retryWhileBusy(() => (calls++, JSON.parse('{')), 5_000)).toThrow(SyntaxError);
    expect(calls).toBe(1);
    expect(() => retryWhileBusy(() => { throw busy(); }, 30)).toThrow('database is locked');
  });
});
