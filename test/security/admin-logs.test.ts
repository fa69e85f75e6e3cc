import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../../src/logger.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { startBackend, tempDir, type StubBackend } from '../helpers/servers.js';

/** Issue 6 part 5: the token never reaches a log; every change leaves exactly one audit line. */

const TOKEN = 'sEcReT-tOkEn-7f3a9c1e5b2d4086';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serveWithToken(): Promise<{ run: CliRun; admin: string; proxy: string }> {
  const backends: StubBackend[] = await Promise.all([startBackend('legacy'), startBackend('modern')]);
  const temp = tempDir();
  cleanups.push(temp.cleanup, ...backends.map((b) => () => b.close()));
  const run = runCli(
    ['serve', '--legacy', backends[0]!.url, '--modern', backends[1]!.url, '--db', temp.db, '--port', '0', '--host', '127.0.0.1', '--admin-port', '0', '--log-level', 'trace'],
    { STRANGLER_ADMIN_TOKEN: TOKEN },
  );
  cleanups.push(async () => {
    run.kill('SIGKILL');
    await run.exited;
  });
  const line = await run.waitForLog('gateway listening');
  return { run, admin: line.admin as string, proxy: line.proxy as string };
}

function call(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<Response> {
  return fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('the admin token never appears in a log line', () => {
  it('is redacted from every path the logger knows, at any depth we log', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
    const logger = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    logger.info({ req: { headers: { authorization: `Bearer ${TOKEN}` } } }, 'a request');
    logger.info({ headers: { authorization: `Bearer ${TOKEN}` } }, 'headers');
    logger.info({ authorization: `Bearer ${TOKEN}` }, 'header');
    logger.info({ adminToken: TOKEN, token: TOKEN }, 'fields');
    logger.info({ config: { adminToken: TOKEN, port: 1 } }, 'config');
    logger.child({ component: 'admin' }).warn({ req: { headers: { authorization: TOKEN } } }, 'child');
    expect(lines).toHaveLength(6);
    for (const line of lines) {
      expect(line).not.toContain(TOKEN);
      expect(line).toContain('[redacted]');
    }
  });

  it('a gateway logging at trace, called with right, wrong and leaked tokens, never logs it', async () => {
    const { run, admin, proxy } = await serveWithToken();
    const good = { authorization: `Bearer ${TOKEN}` };
    expect((await call(`${admin}/routes`, 'POST', good, { id: 'orders', pathPrefix: '/orders' })).status).toBe(201);
    expect((await call(`${admin}/routes`, 'GET', { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    expect((await call(`${admin}/routes`, 'GET', { authorization: TOKEN })).status).toBe(401);
    expect((await call(`${admin}/routes/orders`, 'PATCH', good, `{"mode": "${TOKEN}"`)).status).toBe(400);
    expect((await call(`${admin}/routes/orders`, 'PATCH', good, { mode: TOKEN })).status).toBe(400);
    expect((await call(`${admin}/routes/orders`, 'PATCH', { ...good, 'if-match': '"9"' }, { mode: 'modern' })).status).toBe(409);
    expect((await call(`${admin}/routes/orders`, 'PATCH', good, { mode: 'modern', reason: 'go' })).status).toBe(200);
    // The data plane gets the token too, from a confused client: logged in the access log, never the header.
    expect((await call(`${proxy}/orders/1`, 'GET', good)).status).toBe(200);
    expect((await call(`${proxy}/%2Forders`, 'GET', good)).status).toBe(400); // read as /orders by some backends
    run.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const output = [...run.stdout, ...run.stderr].join('\n');
    expect(run.stdout.length).toBeGreaterThan(3);
    expect(output).not.toContain(TOKEN);
  });
});

describe('audit log', () => {
  it('writes one line per change with request id, actor and reason; none for refused changes', async () => {
    const { run, admin } = await serveWithToken();
    const auth = { authorization: `Bearer ${TOKEN}` };
    const changes: [string, string, unknown, string][] = [
      ['POST', '/routes', { id: 'orders', pathPrefix: '/orders', reason: 'start migrating orders' }, 'create'],
      ['PATCH', '/routes/orders', { mode: 'canary', canaryPercent: 10, reason: 'first canary' }, 'update'],
      ['POST', '/routes/orders/flip', { to: 'modern', reason: 'canary is clean' }, 'flip'],
      ['POST', '/routes/orders/rollback', { reason: 'latency' }, 'rollback'],
      ['DELETE', '/routes/orders', { reason: 'retired' }, 'delete'],
    ];
    const refused: [string, string, unknown][] = [
      ['POST', '/routes', { pathPrefix: 'no-slash' }],
      ['PATCH', '/routes/ghost', { mode: 'modern' }],
      ['POST', '/routes', { pathPrefix: '/x', extra: 1 }],
    ];
    for (const [i, [method, path, body]] of changes.entries()) {
      const res = await call(`${admin}${path}`, method, { ...auth, 'x-actor': `alice-${i}`, 'x-request-id': `req-change-${i}` }, body);
      expect(res.status, `${method} ${path}`).toBeLessThan(300);
    }
    for (const [method, path, body] of refused) {
      expect((await call(`${admin}${path}`, method, { ...auth, 'x-request-id': 'req-refused' }, body)).status).toBeGreaterThanOrEqual(400);
    }
    run.kill('SIGTERM');
    await run.exited;
    const audit = run.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.msg === 'route changed');
    expect(audit).toHaveLength(changes.length);
    for (const [i, [, , body, action]] of changes.entries()) {
      expect(audit[i]).toMatchObject({
        reqId: `req-change-${i}`,
        action,
        route: 'orders',
        actor: `alice-${i}`,
        reason: (body as { reason: string }).reason,
      });
    }
  });
});
