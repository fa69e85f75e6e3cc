import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { admin, startTestGateway, type TestGateway } from '../helpers/servers.js';

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
}

const gateways: TestGateway[] = [];

async function start(options: Parameters<typeof startTestGateway>[0] = {}): Promise<TestGateway> {
  const gateway = await startTestGateway(options);
  gateways.push(gateway);
  return gateway;
}

afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
});

/** A raw admin call, for bodies the JSON helper cannot send (text, malformed JSON, huge). */
async function raw(gateway: TestGateway, method: string, path: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(gateway.adminUrl + path, { method, ...init });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // left as text; expectError reports it
  }
  return { status: res.status, headers: res.headers, body };
}

/** The error contract: status, `{ error: { code, message } }` and a JSON content type. */
function expectError(res: Reply, status: number, code: string): ErrorBody['error'] {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { error: { code } } });
  const { error } = res.body as ErrorBody;
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  expect(res.headers.get('content-type')).toMatch(/^application\/json\b/);
  return error;
}

/** The issue paths a VALIDATION_FAILED error names. */
function detailPaths(error: ErrorBody['error']): string[] {
  return (error.details as { path: string }[]).map((d) => d.path);
}

describe('admin API', () => {
  let gw: TestGateway;

  beforeEach(async () => {
    gw = await start();
  });

  const createOrders = (extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', ...extra }, headers);

  describe('GET /routes', () => {
    it('lists no routes on a fresh database', async () => {
      const res = await admin(gw, 'GET', '/routes');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ routes: [], next: null });
    });

    it('lists created routes ordered by prefix', async () => {
      await admin(gw, 'POST', '/routes', { pathPrefix: '/users' });
      await admin(gw, 'POST', '/routes', { pathPrefix: '/orders' });
      const res = await admin(gw, 'GET', '/routes');
      expect(res.body.routes.map((r: { id: string }) => r.id)).toEqual(['orders', 'users']);
    });

    it('answers JSON with a request id', async () => {
      const res = await admin(gw, 'GET', '/routes');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('x-request-id')).toBeTruthy();
    });
  });

  describe('POST /routes', () => {
    it('creates with 201, Location, ETag "1" and the defaults', async () => {
      const res = await admin(gw, 'POST', '/routes', { pathPrefix: '/api/v1/users' });
      expect(res.status).toBe(201);
      expect(res.headers.get('location')).toBe('/routes/api-v1-users');
      expect(res.headers.get('etag')).toBe('"1"');
      expect(res.body).toMatchObject({
        id: 'api-v1-users',
        pathPrefix: '/api/v1/users',
        mode: 'legacy',
        canaryPercent: 0,
        stickyKey: 'cookie',
        timeoutMs: 30_000,
        version: 1,
      });
    });

    it('keeps an explicit id and settings', async () => {
      const res = await createOrders({ mode: 'canary', canaryPercent: 20, stickyKey: 'header:x-user', timeoutMs: 500 });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ id: 'orders', mode: 'canary', canaryPercent: 20, stickyKey: 'header:x-user', timeoutMs: 500 });
    });

    it('refuses a duplicate id with 409 DUPLICATE_ID', async () => {
      await createOrders();
      expectError(await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/other' }), 409, 'DUPLICATE_ID');
    });

    it('refuses a duplicate prefix with 409 DUPLICATE_PATH', async () => {
      await createOrders();
      expectError(await admin(gw, 'POST', '/routes', { id: 'orders2', pathPrefix: '/orders' }), 409, 'DUPLICATE_PATH');
    });

    it('does not create anything when refused', async () => {
      await createOrders();
      await admin(gw, 'POST', '/routes', { id: 'orders2', pathPrefix: '/orders' });
      expect((await admin(gw, 'GET', '/routes')).body.routes).toHaveLength(1);
    });
  });

  describe('GET /routes/:id', () => {
    it('returns the route with its ETag', async () => {
      const created = await createOrders();
      const res = await admin(gw, 'GET', '/routes/orders');
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe('"1"');
      expect(res.body).toEqual(created.body);
    });

    it('answers 404 ROUTE_NOT_FOUND for an unknown id', async () => {
      expectError(await admin(gw, 'GET', '/routes/nope'), 404, 'ROUTE_NOT_FOUND');
    });
  });

  describe('PATCH /routes/:id', () => {
    beforeEach(async () => {
      await createOrders();
    });

    it('changes only the given fields, bumps the version and the ETag', async () => {
      const res = await admin(gw, 'PATCH', '/routes/orders', { mode: 'canary', canaryPercent: 5 });
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe('"2"');
      expect(res.body).toMatchObject({ id: 'orders', pathPrefix: '/orders', mode: 'canary', canaryPercent: 5, timeoutMs: 30_000, version: 2 });
    });

    it('keeps the version for a change that alters nothing', async () => {
      const res = await admin(gw, 'PATCH', '/routes/orders', { mode: 'legacy' });
      expect(res.status).toBe(200);
      expect(res.body.version).toBe(1);
      expect(res.headers.get('etag')).toBe('"1"');
    });

    it.each(['"1"', 'W/"1"', '1', '*'])('applies with If-Match %s', async (ifMatch) => {
      const res = await admin(gw, 'PATCH', '/routes/orders', { mode: 'modern' }, { 'if-match': ifMatch });
      expect(res.status).toBe(200);
      expect(res.body.version).toBe(2);
    });

    it('applies with a current body version', async () => {
      const res = await admin(gw, 'PATCH', '/routes/orders', { mode: 'modern', version: 1 });
      expect(res.status).toBe(200);
    });

    it('refuses a stale If-Match with 409 VERSION_CONFLICT and the current version', async () => {
      await admin(gw, 'PATCH', '/routes/orders', { mode: 'modern' });
      const res = await admin(gw, 'PATCH', '/routes/orders', { mode: 'legacy' }, { 'if-match': '"1"' });
      const error = expectError(res, 409, 'VERSION_CONFLICT');
      expect(error.details).toEqual({ currentVersion: 2 });
    });

    it('refuses a stale body version with 409 VERSION_CONFLICT', async () => {
      await admin(gw, 'PATCH', '/routes/orders', { mode: 'modern' });
      expectError(await admin(gw, 'PATCH', '/routes/orders', { mode: 'legacy', version: 1 }), 409, 'VERSION_CONFLICT');
    });

    it('refuses If-Match and body version that disagree with 400', async () => {
      const res = await admin(gw, 'PATCH', '/routes/orders', { mode: 'modern', version: 1 }, { 'if-match': '"2"' });
      expectError(res, 400, 'VALIDATION_FAILED');
    });

    it.each(['"abc"', '"0"', '"1", "2"', 'W/'])('refuses a malformed If-Match %s with 400', async (ifMatch) => {
      const res = await admin(gw, 'PATCH', '/routes/orders', { mode: 'modern' }, { 'if-match': ifMatch });
      expectError(res, 400, 'VALIDATION_FAILED');
    });

    it('refuses moving onto another route\'s prefix with 409 DUPLICATE_PATH', async () => {
      await admin(gw, 'POST', '/routes', { pathPrefix: '/users' });
      expectError(await admin(gw, 'PATCH', '/routes/orders', { pathPrefix: '/users' }), 409, 'DUPLICATE_PATH');
    });

    it('answers 404 for an unknown id', async () => {
      expectError(await admin(gw, 'PATCH', '/routes/nope', { mode: 'modern' }), 404, 'ROUTE_NOT_FOUND');
    });

    it('refuses a missing body with 400 VALIDATION_FAILED', async () => {
      expectError(await admin(gw, 'PATCH', '/routes/orders'), 400, 'VALIDATION_FAILED');
    });
  });

  describe('DELETE /routes/:id', () => {
    beforeEach(async () => {
      await createOrders();
    });

    it('answers 204 with no body', async () => {
      const res = await admin(gw, 'DELETE', '/routes/orders');
      expect(res.status).toBe(204);
      expect(res.body).toBeUndefined();
    });

    it('makes the route 404 afterwards', async () => {
      await admin(gw, 'DELETE', '/routes/orders');
      expectError(await admin(gw, 'GET', '/routes/orders'), 404, 'ROUTE_NOT_FOUND');
    });

    it('answers 404 when deleting twice', async () => {
      await admin(gw, 'DELETE', '/routes/orders');
      expectError(await admin(gw, 'DELETE', '/routes/orders'), 404, 'ROUTE_NOT_FOUND');
    });

    it('accepts a body with the current version and a reason', async () => {
      const res = await admin(gw, 'DELETE', '/routes/orders', { version: 1, reason: 'retired' });
      expect(res.status).toBe(204);
      const history = await admin(gw, 'GET', '/routes/orders/history');
      expect(history.body.history[0]).toMatchObject({ action: 'delete', version: 2, reason: 'retired' });
    });

    it('refuses a stale If-Match with 409 VERSION_CONFLICT', async () => {
      await admin(gw, 'PATCH', '/routes/orders', { mode: 'modern' });
      expectError(await admin(gw, 'DELETE', '/routes/orders', undefined, { 'if-match': '"1"' }), 409, 'VERSION_CONFLICT');
    });
  });

  describe('POST /routes/:id/flip', () => {
    beforeEach(async () => {
      await createOrders();
    });

    it('sets the mode to the given backend as a new version', async () => {
      const res = await admin(gw, 'POST', '/routes/orders/flip', { to: 'modern' });
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe('"2"');
      expect(res.body).toMatchObject({ mode: 'modern', version: 2 });
    });

    it('records the change as a flip', async () => {
      await admin(gw, 'POST', '/routes/orders/flip', { to: 'modern' });
      const res = await admin(gw, 'GET', '/routes/orders/history');
      expect(res.body.history[0]).toMatchObject({ action: 'flip', version: 2 });
    });

    it('refuses canary as a flip target with 400 naming "to"', async () => {
      const error = expectError(await admin(gw, 'POST', '/routes/orders/flip', { to: 'canary' }), 400, 'VALIDATION_FAILED');
      expect(detailPaths(error)).toEqual(['to']);
    });

    it('refuses a missing body with 400', async () => {
      expectError(await admin(gw, 'POST', '/routes/orders/flip'), 400, 'VALIDATION_FAILED');
    });

    it('refuses a stale version with 409 VERSION_CONFLICT', async () => {
      await admin(gw, 'POST', '/routes/orders/flip', { to: 'modern' });
      expectError(await admin(gw, 'POST', '/routes/orders/flip', { to: 'legacy', version: 1 }), 409, 'VERSION_CONFLICT');
    });

    it('answers 404 for an unknown id', async () => {
      expectError(await admin(gw, 'POST', '/routes/nope/flip', { to: 'modern' }), 404, 'ROUTE_NOT_FOUND');
    });
  });

  describe('GET /routes/:id/history', () => {
    it('lists versions newest first with actor from X-Actor and reason from the body', async () => {
      await createOrders({ reason: 'first cut' }, { 'x-actor': 'alice' });
      await admin(gw, 'POST', '/routes/orders/flip', { to: 'modern', reason: 'go live' }, { 'x-actor': 'bob' });
      const res = await admin(gw, 'GET', '/routes/orders/history');
      expect(res.status).toBe(200);
      expect(res.body.history).toMatchObject([
        { routeId: 'orders', version: 2, action: 'flip', actor: 'bob', reason: 'go live', before: { mode: 'legacy' }, after: { mode: 'modern' } },
        { routeId: 'orders', version: 1, action: 'create', actor: 'alice', reason: 'first cut', before: null, after: { mode: 'legacy' } },
      ]);
    });

    it('records "anonymous" without X-Actor and null without a reason', async () => {
      await createOrders();
      const res = await admin(gw, 'GET', '/routes/orders/history');
      expect(res.body.history[0]).toMatchObject({ actor: 'anonymous', reason: null });
    });

    it.each([
      ['too long', 'a'.repeat(129)],
      ['non-ASCII', 'caf\u00e9'],
    ])('refuses a %s X-Actor with 400', async (_label, actor) => {
      expectError(await createOrders({}, { 'x-actor': actor }), 400, 'VALIDATION_FAILED');
    });

    it('answers 404 for an id that never existed', async () => {
      expectError(await admin(gw, 'GET', '/routes/nope/history'), 404, 'ROUTE_NOT_FOUND');
    });
  });

  describe('POST /routes/:id/rollback', () => {
    beforeEach(async () => {
      await createOrders();
      await admin(gw, 'PATCH', '/routes/orders', { mode: 'canary', canaryPercent: 10 });
      await admin(gw, 'PATCH', '/routes/orders', { canaryPercent: 50 });
    });

    it('without a body restores the previous version', async () => {
      const res = await admin(gw, 'POST', '/routes/orders/rollback');
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe('"4"');
      expect(res.body).toMatchObject({ mode: 'canary', canaryPercent: 10, version: 4 });
    });

    it('with toVersion restores that version', async () => {
      const res = await admin(gw, 'POST', '/routes/orders/rollback', { toVersion: 1, reason: 'abort' }, { 'x-actor': 'ops' });
      expect(res.body).toMatchObject({ mode: 'legacy', canaryPercent: 0, version: 4 });
      const history = await admin(gw, 'GET', '/routes/orders/history');
      expect(history.body.history[0]).toMatchObject({ action: 'rollback', actor: 'ops', reason: 'abort' });
    });

    it('with an empty JSON object restores the previous version', async () => {
      const res = await admin(gw, 'POST', '/routes/orders/rollback', {});
      expect(res.body).toMatchObject({ canaryPercent: 10, version: 4 });
    });

    it('refuses toVersion at or above the current one with 409 NO_PREVIOUS_VERSION', async () => {
      expectError(await admin(gw, 'POST', '/routes/orders/rollback', { toVersion: 3 }), 409, 'NO_PREVIOUS_VERSION');
    });

    it('refuses a route at version 1 with 409 NO_PREVIOUS_VERSION', async () => {
      await admin(gw, 'POST', '/routes', { pathPrefix: '/fresh' });
      expectError(await admin(gw, 'POST', '/routes/fresh/rollback'), 409, 'NO_PREVIOUS_VERSION');
    });

    it('answers 404 for an unknown id', async () => {
      expectError(await admin(gw, 'POST', '/routes/nope/rollback'), 404, 'ROUTE_NOT_FOUND');
    });
  });

  describe('health probes', () => {
    it('GET /healthz answers 200 ok', async () => {
      const res = await admin(gw, 'GET', '/healthz');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('GET /readyz answers 200 ready with the route count', async () => {
      await createOrders();
      const res = await admin(gw, 'GET', '/readyz');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ready', routes: 1, store: 'ok' });
    });
  });

  describe('404s', () => {
    it.each([
      ['GET', '/nope'],
      ['GET', '/routes/orders/nope'],
      ['PUT', '/routes'],
      ['PUT', '/routes/orders'],
      ['DELETE', '/routes'],
      ['GET', '/routes/orders/flip'],
    ])('%s %s is 404 NOT_FOUND', async (method, path) => {
      await createOrders();
      expectError(await admin(gw, method, path), 404, 'NOT_FOUND');
    });

    it.each([
      ['upper case', '/routes/Orders'],
      ['leading dash', '/routes/-orders'],
      ['65 characters', '/routes/' + 'a'.repeat(65)],
      ['encoded space', '/routes/a%20b'],
      ['dot', '/routes/a.b'],
    ])('a malformed id (%s) is 404 ROUTE_NOT_FOUND', async (_label, path) => {
      expectError(await admin(gw, 'GET', path), 404, 'ROUTE_NOT_FOUND');
    });

    // BUG (src/admin/server.ts): Fastify answers bad percent-encodings and over-long params
    // itself (no `frameworkErrors` option), bypassing setErrorHandler: the body is
    // {"error":"Bad Request","code":"FST_ERR_BAD_URL",...} / 414 FST_ERR_MAX_PARAM_LENGTH.
    it.each([
      ['bad percent-encoding', '/routes/%zz'],
      ['lone percent', '/routes/%'],
      ['over 100 characters', '/routes/' + 'a'.repeat(101)],
    ])('a malformed id (%s) still gets the error contract', async (_label, path) => {
      const res = await raw(gw, 'GET', path);
      expect(res.status).toBeLessThan(500);
      expect(res.body).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
    });
  });

  describe('validation (400 VALIDATION_FAILED naming the field)', () => {
    it.each<[string, Record<string, unknown>, string]>([
      ['canaryPercent above 100', { pathPrefix: '/orders', canaryPercent: 101 }, 'canaryPercent'],
      ['canaryPercent below 0', { pathPrefix: '/orders', canaryPercent: -1 }, 'canaryPercent'],
      ['canaryPercent not an integer', { pathPrefix: '/orders', canaryPercent: 1.5 }, 'canaryPercent'],
      ['canaryPercent a string', { pathPrefix: '/orders', canaryPercent: '5' }, 'canaryPercent'],
      ['bad mode', { pathPrefix: '/orders', mode: 'both' }, 'mode'],
      ['bad stickyKey', { pathPrefix: '/orders', stickyKey: 'ip' }, 'stickyKey'],
      ['upper-case sticky header', { pathPrefix: '/orders', stickyKey: 'header:X-User' }, 'stickyKey'],
      ['timeoutMs 0', { pathPrefix: '/orders', timeoutMs: 0 }, 'timeoutMs'],
      ['trailing slash prefix', { pathPrefix: '/orders/' }, 'pathPrefix'],
      ['dot-dot prefix', { pathPrefix: '/a/../b' }, 'pathPrefix'],
      ['relative prefix', { pathPrefix: 'orders' }, 'pathPrefix'],
      ['double slash prefix', { pathPrefix: '/a//b' }, 'pathPrefix'],
      ['percent in prefix', { pathPrefix: '/a%20b' }, 'pathPrefix'],
      ['missing prefix', { mode: 'modern' }, 'pathPrefix'],
      ['bad id', { id: 'Bad Id', pathPrefix: '/orders' }, 'id'],
      ['reason too long', { pathPrefix: '/orders', reason: 'r'.repeat(1001) }, 'reason'],
    ])('POST /routes refuses %s', async (_label, body, field) => {
      const error = expectError(await admin(gw, 'POST', '/routes', body), 400, 'VALIDATION_FAILED');
      expect(detailPaths(error)).toContain(field);
      expect(error.message).toContain(field);
    });

    it.each<[string, Record<string, unknown>, string]>([
      ['canaryPercent above 100', { canaryPercent: 1000 }, 'canaryPercent'],
      ['bad mode', { mode: 'MODERN' }, 'mode'],
      ['bad stickyKey', { stickyKey: 'header:' }, 'stickyKey'],
      ['non-canonical prefix', { pathPrefix: '/orders/' }, 'pathPrefix'],
      ['version 0', { version: 0 }, 'version'],
    ])('PATCH /routes/:id refuses %s', async (_label, body, field) => {
      await createOrders();
      const error = expectError(await admin(gw, 'PATCH', '/routes/orders', body), 400, 'VALIDATION_FAILED');
      expect(detailPaths(error)).toContain(field);
    });

    it.each<[string, string, Record<string, unknown>]>([
      ['POST', '/routes', { pathPrefix: '/orders', colour: 'red' }],
      ['PATCH', '/routes/orders', { colour: 'red' }],
      ['POST', '/routes/orders/flip', { to: 'modern', colour: 'red' }],
      ['POST', '/routes/orders/rollback', { colour: 'red' }],
      ['DELETE', '/routes/orders', { colour: 'red' }],
    ])('%s %s refuses an unknown field, naming the key', async (method, path, body) => {
      await createOrders();
      const error = expectError(await admin(gw, method, path, body), 400, 'VALIDATION_FAILED');
      expect(error.message).toContain('colour');
    });

    it('refuses a non-object JSON body', async () => {
      expectError(await admin(gw, 'POST', '/routes', ['/orders']), 400, 'VALIDATION_FAILED');
    });

    it('changes nothing when refused', async () => {
      await createOrders();
      await admin(gw, 'PATCH', '/routes/orders', { mode: 'modern', canaryPercent: 101 });
      expect((await admin(gw, 'GET', '/routes/orders')).body).toMatchObject({ mode: 'legacy', version: 1 });
    });
  });

  describe('body handling', () => {
    it.each(['{"pathPrefix":', '{pathPrefix: "/x"}', "{'a':1}", '{"a":1}}'])(
      'malformed JSON %s is 400 INVALID_JSON',
      async (text) => {
        const res = await raw(gw, 'POST', '/routes', { headers: { 'content-type': 'application/json' }, body: text });
        expectError(res, 400, 'INVALID_JSON');
      },
    );

    it('an empty body with a JSON content type is 400 INVALID_JSON', async () => {
      const res = await raw(gw, 'POST', '/routes', { headers: { 'content-type': 'application/json' }, body: '' });
      expectError(res, 400, 'INVALID_JSON');
    });

    it.each([
      ['__proto__', '{"pathPrefix":"/x","__proto__":{"mode":"modern"}}'],
      ['constructor.prototype', '{"pathPrefix":"/x","constructor":{"prototype":{"mode":"modern"}}}'],
    ])('a %s key is refused with 400 INVALID_JSON and creates nothing', async (_label, text) => {
      const res = await raw(gw, 'POST', '/routes', { headers: { 'content-type': 'application/json' }, body: text });
      expectError(res, 400, 'INVALID_JSON');
      expect((await admin(gw, 'GET', '/routes')).body.routes).toEqual([]);
    });

    it('an application/x-www-form-urlencoded body is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      const res = await raw(gw, 'POST', '/routes', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'pathPrefix=%2Forders',
      });
      expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('a text/plain body is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      const res = await raw(gw, 'POST', '/routes', {
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ pathPrefix: '/orders' }),
      });
      expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('a text/plain body never creates a route', async () => {
      const res = await raw(gw, 'POST', '/routes', {
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ pathPrefix: '/orders' }),
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect((await admin(gw, 'GET', '/routes')).body.routes).toEqual([]);
    });

    it('a body over 64 KiB is 413 BODY_TOO_LARGE', async () => {
      const body = JSON.stringify({ pathPrefix: '/orders', reason: 'x'.repeat(64 * 1024) });
      const res = await raw(gw, 'POST', '/routes', { headers: { 'content-type': 'application/json' }, body });
      expectError(res, 413, 'BODY_TOO_LARGE');
    });

    it('a body just under 64 KiB is parsed (and then validated)', async () => {
      const padding = 64 * 1024 - 100;
      const body = JSON.stringify({ pathPrefix: '/orders', reason: 'x'.repeat(padding) });
      expect(Buffer.byteLength(body)).toBeLessThan(64 * 1024);
      const error = expectError(
        await raw(gw, 'POST', '/routes', { headers: { 'content-type': 'application/json' }, body }),
        400,
        'VALIDATION_FAILED',
      );
      expect(detailPaths(error)).toEqual(['reason']);
    });
  });
});

describe('admin API with a token', () => {
  const token = 'x'.repeat(32);
  let gw: TestGateway;

  beforeEach(async () => {
    gw = await start({ config: { adminToken: token } });
    const auth = { authorization: `Bearer ${token}` };
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders' }, auth);
    await admin(gw, 'PATCH', '/routes/orders', { timeoutMs: 1000 }, auth); // v2, so rollback has a target
  });

  const endpoints: [string, string, unknown][] = [
    ['GET', '/routes', undefined],
    ['POST', '/routes', { pathPrefix: '/users' }],
    ['GET', '/routes/orders', undefined],
    ['PATCH', '/routes/orders', { mode: 'modern' }],
    ['DELETE', '/routes/orders', undefined],
    ['POST', '/routes/orders/flip', { to: 'modern' }],
    ['POST', '/routes/orders/rollback', undefined],
    ['GET', '/routes/orders/history', undefined],
    ['GET', '/nope', undefined],
  ];

  it.each(endpoints)('%s %s without a token is 401 UNAUTHORIZED', async (method, path, body) => {
    expectError(await admin(gw, method, path, body), 401, 'UNAUTHORIZED');
  });

  it.each(endpoints)('%s %s with a wrong token is 401 UNAUTHORIZED', async (method, path, body) => {
    expectError(await admin(gw, method, path, body, { authorization: `Bearer ${'y'.repeat(32)}` }), 401, 'UNAUTHORIZED');
  });

  it.each([
    ['a token prefix', `Bearer ${token.slice(0, 16)}`],
    ['a longer token', `Bearer ${token}x`],
    ['another scheme', `Basic ${token}`],
    ['no scheme', token],
    ['an empty bearer', 'Bearer '],
  ])('refuses %s with 401', async (_label, authorization) => {
    expectError(await admin(gw, 'GET', '/routes', undefined, { authorization }), 401, 'UNAUTHORIZED');
  });

  it('changes nothing when unauthorised', async () => {
    await admin(gw, 'DELETE', '/routes/orders');
    await admin(gw, 'POST', '/routes/orders/flip', { to: 'modern' });
    expect(await gw.store.get('orders')).toMatchObject({ mode: 'legacy', version: 2 });
  });

  it.each(['/healthz', '/readyz'])('%s stays open without a token', async (path) => {
    expect((await admin(gw, 'GET', path)).status).toBe(200);
  });

  it.each(endpoints.filter(([, path]) => path !== '/nope'))('%s %s works with the token', async (method, path, body) => {
    const res = await admin(gw, method, path, body, { authorization: `Bearer ${token}` });
    expect(res.status).toBeGreaterThanOrEqual(200);
    expect(res.status).toBeLessThan(300);
  });
});

describe('changes apply to live traffic without a restart', () => {
  let gw: TestGateway;

  beforeEach(async () => {
    gw = await start();
  });

  async function proxied(path: string): Promise<{ backend: string | null; route: string | null; servedBy: string }> {
    const res = await fetch(gw.proxyUrl + path);
    const body = (await res.json()) as { servedBy: string };
    return { backend: res.headers.get('x-strangler-backend'), route: res.headers.get('x-strangler-route'), servedBy: body.servedBy };
  }

  it('a new modern route is served by modern', async () => {
    await admin(gw, 'POST', '/routes', { pathPrefix: '/orders', mode: 'modern' });
    expect(await proxied('/orders/1')).toEqual({ backend: 'modern', route: 'orders', servedBy: 'modern' });
    expect(gw.modern.received.map((r) => r.url)).toContain('/orders/1');
    expect(gw.legacy.received).toEqual([]);
  });

  it('a flip to legacy moves the traffic to legacy', async () => {
    await admin(gw, 'POST', '/routes', { pathPrefix: '/orders', mode: 'modern' });
    await proxied('/orders/1');
    await admin(gw, 'POST', '/routes/orders/flip', { to: 'legacy' });
    expect(await proxied('/orders/2')).toEqual({ backend: 'legacy', route: 'orders', servedBy: 'legacy' });
    expect(gw.legacy.received.map((r) => r.url)).toEqual(['/orders/2']);
  });

  it('a rollback moves the traffic back', async () => {
    await admin(gw, 'POST', '/routes', { pathPrefix: '/orders', mode: 'modern' });
    await admin(gw, 'POST', '/routes/orders/flip', { to: 'legacy' });
    await admin(gw, 'POST', '/routes/orders/rollback');
    expect((await proxied('/orders/3')).backend).toBe('modern');
  });

  it('a deleted route falls back to the default (legacy)', async () => {
    await admin(gw, 'POST', '/routes', { pathPrefix: '/orders', mode: 'modern' });
    await admin(gw, 'DELETE', '/routes/orders');
    expect(await proxied('/orders/1')).toEqual({ backend: 'legacy', route: 'default', servedBy: 'legacy' });
  });

  it('a refused change leaves the traffic where it was', async () => {
    await admin(gw, 'POST', '/routes', { pathPrefix: '/orders', mode: 'modern' });
    await admin(gw, 'POST', '/routes/orders/flip', { to: 'legacy', version: 99 });
    expect((await proxied('/orders/1')).backend).toBe('modern');
  });
});
