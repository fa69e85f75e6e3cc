import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { admin, startTestGateway, type TestGateway } from '../helpers/servers.js';

/**
 * Another process holding the write lock longer than the busy timeout: the change is refused
 * with 503 DB_BUSY and Retry-After, nothing is written, and reads go on (WAL readers never wait).
 */

let gateway: TestGateway | undefined;
let holder: Database.Database | undefined;
afterEach(async () => {
  holder?.close();
  await gateway?.stop();
  gateway = holder = undefined;
});

describe('a route database locked by another writer', () => {
  it('refuses changes with 503 DB_BUSY, keeps serving reads, and accepts changes once the lock is gone', async () => {
    gateway = await startTestGateway({ deps: { busyTimeoutMs: 200 } });
    const gw = gateway;
    expect((await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders' })).status).toBe(201);

    holder = new Database(gw.db);
    holder.prepare('BEGIN IMMEDIATE').run();

    const refused = await admin(gw, 'PATCH', '/routes/orders', { mode: 'modern' });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('DB_BUSY');
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await admin(gw, 'POST', '/routes', { pathPrefix: '/users' })).body.error.code).toBe('DB_BUSY');

    expect((await admin(gw, 'GET', '/routes/orders')).body).toMatchObject({ version: 1, mode: 'legacy' });
    expect((await admin(gw, 'GET', '/readyz')).status).toBe(200);
    expect((await fetch(`${gw.proxyUrl}/orders`)).status).toBe(200);

    holder.prepare('ROLLBACK').run();
    expect((await admin(gw, 'PATCH', '/routes/orders', { mode: 'modern' })).body).toMatchObject({ version: 2, mode: 'modern' });
    expect((await admin(gw, 'GET', '/routes/orders/history')).body.history).toHaveLength(2);
  });
});
