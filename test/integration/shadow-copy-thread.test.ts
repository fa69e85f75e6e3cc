import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPool } from '../../src/backends/upstream.js';
import { systemClock } from '../../src/clock.js';
import type { Answer } from '../../src/shadow/answer.js';
import { sendCopy } from '../../src/shadow/background-call.js';
import type { CopyCall, CopyResult } from '../../src/shadow/copy-protocol.js';
import { CopyThread } from '../../src/shadow/copy-thread.js';
import { DEFAULT_SHADOW_SETTINGS } from '../../src/shadow/settings.js';
import { silentLogger, type StubBackend } from '../helpers/servers.js';
import { cannedBackend } from '../helpers/shadow.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setUp(delayMs?: number): Promise<{ thread: CopyThread; modern: StubBackend }> {
  const modern = await cannedBackend('modern', { '/a': { body: { id: 1, price: 11 }, delayMs } });
  const thread = new CopyThread(silentLogger());
  cleanups.push(() => thread.close(), () => modern.close());
  return { thread, modern };
}

const call = (backend: StubBackend): CopyCall => ({
  target: { origin: backend.url, pool: { connections: 4, connectTimeoutMs: 1_000 } },
  request: { path: '/a', method: 'GET', headers: ['x-strangler-shadow', '1'], body: null },
});

const legacyAnswer = (price: number): Answer => {
  const bytes = Buffer.from(JSON.stringify({ price, id: 1 }));
  return { status: 200, headers: { 'content-type': 'application/json' }, body: { length: bytes.length, bytes, sha256: undefined } };
};

function copied(thread: CopyThread, modern: StubBackend, legacy: Answer | undefined, timeoutMs = 1_000, settings = DEFAULT_SHADOW_SETTINGS): Promise<CopyResult> {
  return new Promise((resolve) => {
    const id = thread.copy(timeoutMs, call(modern), undefined, resolve);
    thread.answer(id, legacy, settings);
  });
}

describe('shadow copy thread', () => {
  it('sends the copy from its own thread and hands back the differences with legacy', async () => {
    const { thread, modern } = await setUp();
    expect(await copied(thread, modern, legacyAnswer(11))).toMatchObject({ outcome: 'compared', modernStatus: 200, differences: [] });
    expect(await copied(thread, modern, legacyAnswer(10))).toMatchObject({ outcome: 'compared', differences: [{ path: '$.price', legacy: '10', modern: '11' }] });
    expect(modern.received.map((r) => r.headers['x-strangler-shadow'])).toEqual(['1', '1']);
  });

  it('names targets and settings by key, and past the bound on keys starts over: every copy still compared by its own settings', async () => {
    const { thread, modern } = await setUp();
    const ignorePrice = { ...DEFAULT_SHADOW_SETTINGS, ignorePaths: ['$.price'] };
    // A new target per copy (call() builds one) and a new settings object for every other copy: well past 1,024 keys.
    const results: CopyResult[] = [];
    for (let round = 0; round < 16; round++) {
      const batch = Array.from({ length: 50 }, (_, i) => copied(thread, modern, legacyAnswer(10), 1_000, i % 2 === 0 ? ignorePrice : { ...DEFAULT_SHADOW_SETTINGS }));
      results.push(...(await Promise.all(batch)));
    }
    expect(results.filter((r) => r.outcome !== 'compared')).toEqual([]);
    const differing = results.map((r) => (r.outcome === 'compared' ? r.differences.map((d) => d.path).join() : r.outcome));
    expect(differing).toEqual(Array.from({ length: 800 }, (_, i) => (i % 2 === 0 ? '' : '$.price')));
  });

  it('a copy past its timeout is an error; legacy not answered whole abandons it', async () => {
    const { thread, modern } = await setUp(2_000);
    expect(await copied(thread, modern, legacyAnswer(11), 100)).toMatchObject({ outcome: 'error' });
    expect(await copied(thread, modern, undefined, 100)).toMatchObject({ outcome: 'abandoned' });
  });

  it('copies that end before the legacy answer say so first (their slots are free); the result follows that answer', async () => {
    const { thread, modern } = await setUp();
    const results: CopyResult[] = [];
    const id = thread.copy(1_000, call(modern), undefined, (r) => results.push(r));
    await vi.waitFor(() => expect(results).toEqual([{ id, outcome: 'ended' }]));
    thread.answer(id, legacyAnswer(11), DEFAULT_SHADOW_SETTINGS);
    await vi.waitFor(() => expect(results.map((r) => r.outcome)).toEqual(['ended', 'compared']));
  });

  it('close abandons the copies in flight at once', async () => {
    const { thread, modern } = await setUp(60_000);
    const result = copied(thread, modern, legacyAnswer(11), 60_000);
    await new Promise((r) => setTimeout(r, 300)); // the thread starts and sends the copy
    await thread.close();
    expect(await result).toMatchObject({ outcome: 'abandoned' });
  });

  it('a timer that fires late still takes an answer already on the socket: a starved thread is not modern timing out', async () => {
    // The backend in a child process, so it answers while this thread's loop is blocked; it says when a request came.
    const script = "require('http').createServer((q, s) => { console.error('got'); setTimeout(() => s.end('{}'), 100) }).listen(0, '127.0.0.1', function () { console.log(this.address().port) })";
    const child = spawn(process.execPath, ['-e', script]);
    cleanups.push(async () => void child.kill());
    const port = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
    const pool = createPool(`http://127.0.0.1:${port}`, { connections: 1, connectTimeoutMs: 1_000 });
    cleanups.push(() => pool.close());
    const outcome = sendCopy(pool, { path: '/', method: 'GET', headers: [], body: null }, 50, systemClock);
    await new Promise((resolve) => child.stderr.once('data', resolve));
    // Starved past the 50 ms timeout; the answer (100 ms after the request) arrives meanwhile.
    const until = performance.now() + 400;
    while (performance.now() < until);
    expect(await outcome).toHaveProperty('answer');
  });

  it.runIf(process.platform === 'linux')('runs at the lowest CPU priority (nice 19, SCHED_IDLE), so the client thread gets the core first', async () => {
    const { thread, modern } = await setUp();
    await copied(thread, modern, legacyAnswer(11));
    // /proc/<pid>/task/<tid>/stat after the command name: field 19 is the nice value, field 41 the policy (5: SCHED_IDLE).
    const threads = () => readdirSync('/proc/self/task').map((tid) => readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' '));
    await vi.waitFor(() => expect(threads().map((f) => `${f[16]} ${f[38]}`)).toContain('19 5'));
  });
});
