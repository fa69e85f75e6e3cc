import { afterEach, describe, expect, it, vi } from 'vitest';
import { adminCall, spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { adminCli, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/httpbin.js';
import { storeEngines } from '../helpers/postgres.js';
import { admin, startBackend, startTestGateway, tempDir, type StubBackend, type TestGateway } from '../helpers/servers.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/** Issue 17 point 5: every lifecycle move reaches every webhook, at least once, with its event id as Idempotency-Key. */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

// Retries in tens of milliseconds, so "down for a while" is a second, not minutes.
const FAST = { baseMs: 20, capMs: 200, pollMs: 50 };

async function receiver(port?: number, status?: number): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(port, status);
  cleanups.push(() => r.close());
  return r;
}

async function gateway(webhooks: string[]): Promise<TestGateway> {
  const gw = await startTestGateway({ config: { webhook: webhooks }, deps: { relayPolicy: FAST } });
  cleanups.push(() => gw.stop());
  return gw;
}

const metricsOf = async (gw: TestGateway) => (await fetch(`${gw.adminUrl}/metrics`)).text();

const stage = (gw: Pick<TestGateway, 'adminUrl'>, id: string, to: string, force = false) => admin(gw, 'POST', `/routes/${id}/stage`, { stage: to, force, reason: `to ${to}` });

describe('webhooks and the outbox', () => {
  it('a receiver down for a while gets every event once it is back, each with its id as Idempotency-Key', async () => {
    const hook = await receiver(undefined, 503);
    const gw = await gateway([hook.url]);
    expect((await admin(gw, 'POST', '/routes', { pathPrefix: '/orders' })).status).toBe(201);
    const moves = ['shadow', 'canary', 'modern', 'canary', 'legacy'];
    for (const to of moves) expect((await stage(gw, 'orders', to)).status).toBe(200);
    await admin(gw, 'POST', '/routes/orders/flip', { to: 'modern' });

    // Down: the relay keeps trying; every event is listed as undelivered with its failures.
    await vi.waitFor(() => expect(hook.posts.length).toBeGreaterThanOrEqual(12), { timeout: 10_000 });
    const down = await admin(gw, 'GET', '/events?undelivered=true');
    expect(down.status).toBe(200);
    const ids = down.body.events.map((e: { id: string }) => e.id);
    expect(ids).toHaveLength(moves.length + 1);
    expect(down.body.events[0]).toMatchObject({ kind: 'stage', routeId: 'orders', fromStage: 'legacy', toStage: 'modern', text: 'Route /orders: flipped legacy → modern (by anonymous)' });
    expect(down.body.events.at(-1)).toMatchObject({ fromStage: 'legacy', toStage: 'shadow', reason: 'stage legacy → shadow: to shadow' });
    for (const event of down.body.events) {
      expect(event.deliveries).toEqual([expect.objectContaining({ url: hook.url, deliveredAt: null, lastError: 'HTTP 503' })]);
    }
    expect(await metricsOf(gw)).toMatch(/strangler_outbox_undelivered 6/);

    const failed = hook.posts.length;
    hook.status = 204;
    const back = Date.now();
    await vi.waitFor(() => expect(hook.delivered()).toEqual(new Set(ids)), { timeout: 10_000, interval: 10 });
    console.log(`[figures] outbox: ${ids.length} events, ${failed} posts answered 503 while down, all ${ids.length} delivered ${Date.now() - back} ms after it came back; ${hook.posts.length} posts, each keyed by its event id`);
    await vi.waitFor(async () => expect((await admin(gw, 'GET', '/events?undelivered=true')).body.events).toEqual([]));
    // Each post carried its own event's id as the key, with a Slack-readable body.
    for (const post of hook.posts) {
      expect(post.key).toBe(post.body.event.id);
      expect(post.contentType).toBe('application/json');
      expect(post.body.text).toBe(post.body.event.text);
    }
    const all = (await admin(gw, 'GET', '/events')).body.events;
    expect(all.every((e: { deliveries: { attempts: number; deliveredAt: string | null }[] }) => e.deliveries[0]!.deliveredAt !== null && e.deliveries[0]!.attempts >= 2)).toBe(true);
    const metrics = await metricsOf(gw);
    expect(metrics).toMatch(/strangler_outbox_undelivered 0/);
    expect(metrics).toMatch(/strangler_webhook_deliveries_total\{result="delivered"\} 6/);
  });

  it('each move of a rollout the gateway drives reaches the webhook as a rollout event with its figures', async () => {
    const hook = await receiver();
    const gw = await gateway([hook.url]);
    const plan = { steps: [50, 100], holdMs: 200, checkMs: 50, minRequests: 5 };
    expect((await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', stage: 'canary', rollout: plan })).status).toBe(201);
    let running = true;
    const load = (async () => {
      while (running) await fetch(`${gw.proxyUrl}/orders/1`).then((r) => r.arrayBuffer()).catch(() => undefined);
    })();
    cleanups.push(async () => {
      running = false;
      await load;
    });
    expect((await admin(gw, 'POST', '/routes/orders/rollout', {})).status).toBe(200);
    await vi.waitFor(() => expect(hook.posts.map((p) => p.body.event.toStage)).toEqual(['canary', 'canary', 'modern']), { timeout: 15_000, interval: 50 });
    const texts = hook.posts.map((p) => p.body.text);
    expect(texts[0]).toMatch(/^Route \/orders: rollout moved canary 0% → canary 50% \(by rollout\): rollout started from canary: step 1 of 2 \(50%\)/);
    expect(texts[2]).toMatch(/^Route \/orders: rollout moved canary 100% → modern \(by rollout\): rollout complete after step 2 of 2 \(100%\): SLO met over \d+ modern requests/);
    expect(hook.posts.every((p) => p.body.event.kind === 'rollout' && p.key === p.body.event.id)).toBe(true);
  });

  it('POST /webhooks stores one (400 on a bad URL, 409 twice); GET lists flag and API ones; DELETE removes it', async () => {
    const flagged = await receiver();
    const added = await receiver();
    const gw = await gateway([flagged.url]);
    expect((await admin(gw, 'POST', '/webhooks', { url: 'ftp://x' })).body.error.code).toBe('VALIDATION_FAILED');
    expect((await admin(gw, 'POST', '/webhooks', {})).status).toBe(400);
    const created = await admin(gw, 'POST', '/webhooks', { url: added.url });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/webhooks/${created.body.id}`);
    expect((await admin(gw, 'POST', '/webhooks', { url: added.url })).status).toBe(409);
    expect((await admin(gw, 'POST', '/webhooks', { url: flagged.url })).body.error.code).toBe('DUPLICATE_WEBHOOK');
    const list = (await admin(gw, 'GET', '/webhooks')).body.webhooks;
    expect(list.map((w: { url: string; source: string }) => [w.url, w.source]).sort()).toEqual([[added.url, 'api'], [flagged.url, 'flag']].sort());

    await admin(gw, 'POST', '/routes', { pathPrefix: '/users' });
    await stage(gw, 'users', 'shadow');
    await vi.waitFor(() => expect([flagged.posts.length, added.posts.length]).toEqual([1, 1]));
    expect(flagged.posts[0]!.key).toBe(added.posts[0]!.key);

    expect((await admin(gw, 'DELETE', `/webhooks/${created.body.id}`)).status).toBe(204);
    expect((await admin(gw, 'DELETE', `/webhooks/${created.body.id}`)).body.error.code).toBe('WEBHOOK_NOT_FOUND');
    await stage(gw, 'users', 'legacy');
    await vi.waitFor(() => expect(flagged.posts).toHaveLength(2));
    expect(added.posts).toHaveLength(1);
    expect((await admin(gw, 'GET', '/events?limit=1')).body).toMatchObject({ events: [{ toStage: 'legacy' }], next: expect.any(String) });
    expect((await admin(gw, 'GET', '/events?limit=0')).status).toBe(400);
    expect((await admin(gw, 'GET', '/events?undelivered=maybe')).status).toBe(400);
  });

  it('strangler webhooks add|remove and strangler events [--undelivered] show where events go and how far they got', async () => {
    const hook = await receiver(undefined, 500);
    const gw = await gateway([]);
    const { ok, cli } = adminCli(() => gw.adminUrl);
    expect(await ok(['webhooks'])).toMatch(/^no webhooks/);
    expect(await ok(['webhooks', 'add', hook.url])).toMatch(/^webhook [0-9a-f-]+ added: /);
    expect((await cli(['webhooks', 'add', 'nope'])).code).toBe(1);
    await admin(gw, 'POST', '/routes', { pathPrefix: '/stock' });
    await stage(gw, 'stock', 'shadow');
    await vi.waitFor(() => expect(hook.posts.length).toBeGreaterThan(0));
    const table = await ok(['events', '--undelivered']);
    expect(table).toMatch(/^AT\s+ROUTE\s+KIND\s+FROM\s+TO\s+BY\s+DELIVERED\s+LAST ERROR\s+NEXT TRY/);
    expect(table).toMatch(/stock\s+stage\s+legacy\s+shadow\s+anonymous\s+0\/1\s+HTTP 500/);
    hook.status = 200;
    await vi.waitFor(async () => expect((await admin(gw, 'GET', '/events?undelivered=true')).body.events).toEqual([]));
    expect(await ok(['events', '--undelivered'])).toMatch(/^every event has reached every webhook/);
    expect(JSON.parse(await ok(['events', '--json', '--limit', '1'])).events[0].deliveries[0].deliveredAt).not.toBeNull();
    expect((await cli(['events', '--limit', '0'])).code).toBe(2);
    const [webhook] = (await admin(gw, 'GET', '/webhooks')).body.webhooks;
    expect(await ok(['webhooks', 'remove', webhook.id])).toBe(`webhook ${webhook.id} removed`);
  });

  it('strangler serve refuses a --webhook that is not an http(s) URL with exit 2', async () => {
    const temp = tempDir();
    cleanups.push(temp.cleanup);
    const run = runCli(['serve', '--legacy', 'http://127.0.0.1:1', '--modern', 'http://127.0.0.1:2', '--db', temp.db, '--webhook', 'http://ok.example/', '--webhook', 'mailto:ops@example.com']);
    expect(await run.exited).toBe(2);
    expect(run.stderr.join('\n')).toMatch(/--webhook: must be an http:\/\/ or https:\/\/ URL/);
  });
});

describe.each(storeEngines('the outbox on two gateways'))('two gateways on one $name database', ({ database }) => {
  it('post each event once (a claimed delivery is left to its claimant), whichever gateway made the change', async () => {
    const hook = await receiver();
    const where = await database();
    cleanups.push(where.cleanup);
    const a = await startTestGateway({ config: { db: where.db, webhook: [hook.url] }, deps: { relayPolicy: FAST } });
    cleanups.push(() => a.stop());
    const b = await startTestGateway({ config: { db: where.db, webhook: [hook.url] }, deps: { relayPolicy: FAST } });
    cleanups.push(() => b.stop());
    expect((await admin(a, 'GET', '/webhooks')).body.webhooks).toHaveLength(1);
    for (const id of ['r1', 'r2', 'r3']) await admin(a, 'POST', '/routes', { id, pathPrefix: `/${id}` });
    const gateways = [a, b];
    for (let i = 0; i < 12; i++) expect((await stage(gateways[i % 2]!, `r${(i % 3) + 1}`, i % 6 < 3 ? 'shadow' : 'legacy')).status).toBe(200);
    const ids = (await admin(b, 'GET', '/events')).body.events.map((e: { id: string }) => e.id);
    expect(ids).toHaveLength(12);
    await vi.waitFor(() => expect(hook.delivered()).toEqual(new Set(ids)), { timeout: 10_000 });
    // A moment more, for any second post to arrive.
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.posts.map((p) => p.key).sort()).toEqual([...ids].sort());
  });
});

describe('a gateway SIGKILLed between a change and its delivery', () => {
  it('delivers the event after restart, with the same id', { timeout: 60_000 }, async () => {
    const legacy: StubBackend = await startBackend('legacy');
    const modern: StubBackend = await startBackend('modern');
    const temp = tempDir();
    cleanups.push(temp.cleanup, () => legacy.close(), () => modern.close());
    // The receiver's port, with nothing listening on it yet: every post is refused.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/hooks/strangler`;
    const start = async (): Promise<GatewayProcess> => {
      const gw = await spawnGateway(temp.db, { legacy, modern }, ['--webhook', url, '--log-level', 'info']);
      cleanups.push(() => gw.run.kill('SIGKILL'));
      return gw;
    };

    const first = await start();
    await adminCall(first.admin, 'POST', '/routes', { pathPrefix: '/orders' });
    expect((await adminCall(first.admin, 'POST', '/routes/orders/stage', { stage: 'shadow' })).status).toBe(200);
    const [event] = (await adminCall(first.admin, 'GET', '/events?undelivered=true')).body.events;
    expect(event).toMatchObject({ toStage: 'shadow', deliveries: [{ url, deliveredAt: null }] });
    first.run.kill('SIGKILL');
    expect(await first.run.exited).toBeNull();

    const hook = await receiver(port);
    const second = await start();
    const listening = Date.now();
    // At once: a claim the kill cut short is released at start (its process is gone), else within the backoff of the refused attempts.
    await vi.waitFor(() => expect(hook.delivered()).toEqual(new Set([event.id])), { timeout: 15_000, interval: 20 });
    console.log(`[figures] outbox: SIGKILL between change and delivery: delivered ${Date.now() - listening} ms after the restarted gateway listened (its attempts before the kill: ${event.deliveries[0].attempts}+)`);
    expect(hook.posts.every((p) => p.key === event.id)).toBe(true);
    await vi.waitFor(async () => expect((await adminCall(second.admin, 'GET', '/events?undelivered=true')).body.events).toEqual([]));
    second.run.kill('SIGTERM');
    expect(await second.run.exited).toBe(0);
  });
});
