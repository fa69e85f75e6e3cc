import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/store/sqlite-schema.js';
import { SqliteShadowStore } from '../../../src/shadow/shadow-store.js';
import { KEPT_SAMPLES, emptyCounts } from '../../../src/shadow/tally.js';
import { shadowDelta } from '../../helpers/shadow.js';

const require = createRequire(import.meta.url);
let db: Database.Database | undefined;
afterEach(() => {
  db?.close();
  db = undefined;
});

function store(): SqliteShadowStore {
  db = new Database(':memory:');
  migrate(db);
  return new SqliteShadowStore(db);
}

const at = '2026-12-01T12:00:00.000Z';
const delta = (mismatches: number, noise: string[] = []) => shadowDelta(at, mismatches, noise);

describe('SqliteShadowStore', () => {
  it('reads zeros for a route that never ran shadow', async () => {
    expect(await store().read('x')).toEqual(emptyCounts());
  });

  it('adds flushed deltas, keeps the newest samples, and returns the noise all gateways learnt', async () => {
    const s = store();
    await s.flush(new Map([['r', delta(KEPT_SAMPLES - 10, ['$.a'])]]));
    const noise = await s.flush(new Map([['r', delta(20, ['$.b'])]]));
    expect(noise.get('r')).toEqual(['$.a', '$.b']);
    const totals = await s.read('r');
    expect(totals).toMatchObject({ since: at, compared: KEPT_SAMPLES + 12, matched: 2, mismatched: KEPT_SAMPLES + 10 });
    expect(totals.samples).toHaveLength(KEPT_SAMPLES);
    // Newest first: the second flush's last recorded sample leads.
    expect(totals.samples[0]!.path).toBe('/p/19');
    expect(totals.latency.modern.reduce((a, b) => a + b, 0)).toBe(KEPT_SAMPLES + 12);
    expect((await s.summaries(['r', 'none'])).get('r')).toEqual({ compared: KEPT_SAMPLES + 12, matched: 2, mismatched: KEPT_SAMPLES + 10 });
  });

  it('never waits for another writer: a busy database fails the flush at once, and the busy timeout stays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shadow-store-'));
    const file = join(dir, 'db');
    try {
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      migrate(db);
      // Another thread holds the write lock for 2 s: a flush that waited (up to 5 s) would then succeed.
      const holder = new Worker(
        `const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
         const db = new Database(${JSON.stringify(file)});
         db.exec('BEGIN IMMEDIATE');
         require('node:worker_threads').parentPort.postMessage('locked');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
         db.exec('ROLLBACK');
         db.close();`,
        { eval: true },
      );
      await new Promise((resolve) => holder.once('message', resolve));
      await expect(new SqliteShadowStore(db).flush(new Map([['r', delta(1)]]))).rejects.toThrow(/busy|locked/i);
      expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
      await new Promise((resolve) => holder.once('exit', resolve));
    } finally {
      db?.close();
      db = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('clears counts and samples, keeps the noise, and restarts since', async () => {
    const s = store();
    await s.flush(new Map([['r', delta(3, ['$.a'])]]));
    await s.clear('r', '2026-12-02T00:00:00.000Z');
    expect(await s.read('r')).toMatchObject({ since: '2026-12-02T00:00:00.000Z', compared: 0, samples: [], noise: ['$.a'] });
  });
});
