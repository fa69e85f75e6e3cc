import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Relay, staleClaimants, type Poster } from '../../../src/outbox/relay.js';
import { DEFAULT_RELAY_POLICY } from '../../../src/outbox/retry-schedule.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { tempDir } from '../../helpers/servers.js';
import { fakeClock, lcg, type FakeClock } from '../resilience/fake-clock.js';

const HOOK = 'http://hooks.invalid/a';
// Timers are real (the relay's polling); time as the relay judges it is the fake clock's.
const policy = { ...DEFAULT_RELAY_POLICY, baseMs: 1_000, capMs: 8_000, leaseMs: 30_000, pollMs: 60_000 };

interface Post {
  url: string;
  key: string;
  body: { text: string; event: { id: string } };
}

describe('staleClaimants', () => {
  it('names this host\'s dead processes and itself (a predecessor with its pid), never a live one or another host\'s', () => {
    const alive = (pid: number) => pid === 20;
    expect(staleClaimants(['a:10', 'a:20', 'a:30', 'b:10', 'a.b:c:10'], 'a:30', alive)).toEqual(['a:10', 'a:30']);
    expect(staleClaimants([], 'a:1', alive)).toEqual([]);
  });
});

describe('the relay', () => {
  let clock: FakeClock;
  let temp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let posts: Post[];
  let answer: () => Promise<{ ok: true } | { ok: false; error: string }>;
  const relays: Relay[] = [];

  const poster: Poster = async (url, body, key) => {
    posts.push({ url, key, body: JSON.parse(body) as Post['body'] });
    return answer();
  };
  let pid = 100;
  const dead = new Set<number>();
  const relay = (post = poster, owner = `host-a:${++pid}`) => {
    const r = new Relay({ outbox: store.outbox, onChange: (l) => store.onChange(l), clock, random: lcg(3), logger: pino({ level: 'silent' }), policy, post, owner, isAlive: (p) => !dead.has(p) });
    relays.push(r);
    r.start();
    return r;
  };
  const delivery = async () => (await store.outbox.events({ undelivered: false, limit: 10 }))[0]!.event.deliveries[0]!;

  beforeEach(async () => {
    clock = fakeClock(Date.parse('2030-01-01T00:00:00.000Z'));
    temp = tempDir();
    store = SqliteStore.open(temp.db, { clock });
    await store.backends.ensureDefaults({ legacy: { url: 'http://127.0.0.1:1' }, modern: { url: 'http://127.0.0.1:2' } }, { actor: 'serve' });
    await store.outbox.ensureWebhooks([HOOK], new Date(clock.now()).toISOString());
    await store.create({ pathPrefix: '/orders' }, { actor: 'alice' });
    posts = [];
    answer = async () => ({ ok: true });
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.close()));
    await store.close();
    temp.cleanup();
  });

  it('posts a change\'s event as soon as it commits, with its id as the idempotency key and a Slack-style body', async () => {
    relay();
    await store.update('orders', { stage: 'shadow' }, { actor: 'alice', reason: 'try it' }, 'stage');
    await vi.waitFor(() => expect(posts).toHaveLength(1));
    const [post] = posts;
    expect(post!.url).toBe(HOOK);
    expect(post!.key).toBe(post!.body.event.id);
    expect(post!.body.text).toBe('Route /orders: stage moved legacy → shadow (by alice): try it');
    await vi.waitFor(async () => expect((await delivery()).deliveredAt).toBe(new Date(clock.now()).toISOString()));
    expect(await store.outbox.undelivered()).toBe(0);
  });

  it('a failure waits out its backoff (on the clock), then is retried with the same key until it is delivered', async () => {
    answer = async () => ({ ok: false, error: 'HTTP 503' });
    const r = relay();
    await store.update('orders', { stage: 'shadow' }, { actor: 'alice' }, 'stage');
    await vi.waitFor(async () => expect(await delivery()).toMatchObject({ attempts: 1, lastError: 'HTTP 503', deliveredAt: null }));
    const due = Date.parse((await delivery()).nextAttemptAt!);
    expect(due - clock.now()).toBeLessThan(policy.baseMs);
    // Not due yet: a wake posts nothing.
    clock.set(due - 1);
    r.wake();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(posts).toHaveLength(1);
    answer = async () => ({ ok: true });
    clock.set(due);
    r.wake();
    await vi.waitFor(async () => expect(await delivery()).toMatchObject({ attempts: 2, lastError: null, nextAttemptAt: null }));
    expect(posts.map((p) => p.key)).toEqual([posts[0]!.key, posts[0]!.key]);
  });

  it('an outcome the database is too busy to take is written at the next pass, without posting again', async () => {
    let busy = true;
    const outbox = Object.create(store.outbox) as typeof store.outbox;
    outbox.settle = async (...args) => {
      if (busy) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
      return store.outbox.settle(...args);
    };
    const r = new Relay({ outbox, onChange: (l) => store.onChange(l), clock, random: lcg(3), logger: pino({ level: 'silent' }), policy, post: poster, owner: 'host-a:1', isAlive: () => true });
    relays.push(r);
    r.start();
    await store.update('orders', { stage: 'shadow' }, { actor: 'alice' }, 'stage');
    await vi.waitFor(() => expect(posts).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await delivery()).deliveredAt).toBeNull();
    busy = false;
    r.wake();
    await vi.waitFor(async () => expect(await delivery()).toMatchObject({ attempts: 1, lastError: null }));
    expect((await delivery()).deliveredAt).not.toBeNull();
    expect(posts).toHaveLength(1);
  });

  it('two relays on one database: a claimed delivery is posted once, the other waits for the lease', async () => {
    let release!: () => void;
    answer = () => new Promise((resolve) => (release = () => resolve({ ok: true })));
    const first = relay();
    const second = relay();
    await store.update('orders', { stage: 'shadow' }, { actor: 'alice' }, 'stage');
    await vi.waitFor(() => expect(posts).toHaveLength(1));
    first.wake();
    second.wake();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(posts).toHaveLength(1);
    release();
    await vi.waitFor(async () => expect((await delivery()).deliveredAt).not.toBeNull());
  });

  it('a claim that lapses (its gateway died mid-post) is taken again after the lease', async () => {
    // Never answers (until closed): the gateway died with the post in flight.
    const hung: Poster = (_u, _b, _k, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, error: 'aborted' })));
    const gone = new Relay({ outbox: store.outbox, onChange: () => () => undefined, clock, random: lcg(1), logger: pino({ level: 'silent' }), policy, post: hung, owner: 'host-b:7', isAlive: () => true });
    gone.start();
    await store.update('orders', { stage: 'shadow' }, { actor: 'alice' }, 'stage');
    gone.wake();
    await vi.waitFor(async () => expect(Date.parse((await delivery()).nextAttemptAt!)).toBe(clock.now() + policy.leaseMs));
    const r = relay();
    clock.advance(policy.leaseMs);
    r.wake();
    await vi.waitFor(async () => expect((await delivery()).deliveredAt).not.toBeNull());
    expect(posts).toHaveLength(1);
    await gone.close();
  });

  it('a relay starting on a host whose previous gateway was killed mid-post takes that claim again at once', async () => {
    const hung: Poster = (_u, _b, _k, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, error: 'aborted' })));
    const killed = new Relay({ outbox: store.outbox, onChange: (l) => store.onChange(l), clock, random: lcg(1), logger: pino({ level: 'silent' }), policy, post: hung, owner: 'host-a:7', isAlive: () => true });
    killed.start();
    await store.update('orders', { stage: 'shadow' }, { actor: 'alice' }, 'stage');
    await vi.waitFor(async () => expect(await store.outbox.claimants()).toEqual(['host-a:7']));
    dead.add(7);
    relay();
    await vi.waitFor(async () => expect((await delivery()).deliveredAt).not.toBeNull());
    expect(posts).toHaveLength(1);
    await killed.close();
  });

  it('close aborts a post in flight without counting an attempt', async () => {
    let aborted = false;
    const slow: Poster = (_u, _b, _k, signal) =>
      new Promise((resolve) => signal.addEventListener('abort', () => ((aborted = true), resolve({ ok: false, error: 'aborted' }))));
    const r = relay(slow);
    await store.update('orders', { stage: 'shadow' }, { actor: 'alice' }, 'stage');
    await vi.waitFor(async () => expect((await delivery()).nextAttemptAt).not.toBe(new Date(clock.now()).toISOString()));
    await r.close();
    expect(aborted).toBe(true);
    // Handed back: due at once for whoever runs next.
    expect(await delivery()).toMatchObject({ attempts: 0, deliveredAt: null, nextAttemptAt: new Date(clock.now()).toISOString() });
    expect(await store.outbox.claimants()).toEqual([]);
  });
});
