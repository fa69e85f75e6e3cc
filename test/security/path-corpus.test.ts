import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouteTable } from '../../src/routing/route-table.js';
import { rawRequest } from '../helpers/raw-http.js';
import { admin, startTestGateway, type Received, type TestGateway } from '../helpers/servers.js';

/**
 * One path interpretation, end to end: request targets sent as raw bytes. For each, the gateway
 * either refuses it itself (4xx, no backend sees it) or the route it chose (x-strangler-route) is
 * the route that every plausible backend reading of the path the backend received would match.
 * With CHAOS=1 a seeded random corpus of dangerous fragments is added.
 */
const CHAOS = process.env.CHAOS === '1';
const RANDOM_CASES = CHAOS ? Number(process.env.PATH_CASES ?? 5_000) : 300;

/** Routes whose sides differ, so a misreading would cross a boundary. */
const ROUTES = [
  { id: 'orders', pathPrefix: '/orders', mode: 'modern' },
  { id: 'orders-internal', pathPrefix: '/orders/internal', mode: 'legacy' },
  { id: 'public', pathPrefix: '/public', mode: 'legacy' },
  { id: 'admin', pathPrefix: '/admin', mode: 'modern' },
  { id: 'api-v1', pathPrefix: '/api/v1', mode: 'modern' },
  { id: 'static', pathPrefix: '/static', mode: 'legacy' },
] as const;

/** `from` is a route a guard might allow; `to` one it should not reach by a trick. */
const PAIRS = [
  ['public', 'admin'],
  ['public', 'orders'],
  ['orders/internal', 'orders'],
  ['static', 'api/v1'],
  ['orders', 'orders/internal'],
] as const;

const DOTDOT = ['..', '%2e%2e', '%2E%2E', '%2e.', '.%2E', '%2E%2e', '%c0%ae%c0%ae', '%e0%80%ae%e0%80%ae', '..;', '..;x=1', '.%00.', '%252e%252e'];
const SLASH = ['/', '//', '%2f', '%2F', '%5c', '%5C', '\\', '%c0%af', '%e0%80%af', '/./', '/%2e/', ';/', '/;x/'];
const ENCODE_FIRST = (p: string) => `%${p.charCodeAt(0).toString(16)}${p.slice(1)}`;
const ENCODE_FIRST_UPPER = (p: string) => `%${p.charCodeAt(0).toString(16).toUpperCase()}${p.slice(1)}`;

function templateCases(): string[] {
  const cases: string[] = [];
  for (const [from, to] of PAIRS) {
    for (const dots of DOTDOT) cases.push(`/${from}/${dots}/${to}/1`);
    for (const slash of SLASH) cases.push(`/${from}${slash}..${slash}${to}`);
    cases.push(
      `/${from}/../../${to}`,
      `/${from}/./../${to}`,
      `/${from}//../${to}`,
      `/${from}/x/../../${to}`,
      `/${from};x=1/../${to}`,
      `/${from}/..;/${to}`,
      `/${from}/%2e%2e;/${to}`,
      `/${ENCODE_FIRST(from)}/../${to}`,
      `/${ENCODE_FIRST_UPPER(from)}/%2e%2e/${to}`,
      `/${from}?/../${to}`,
      `/${from}%3F/../${to}`,
      `/${from}#/../${to}`,
      `/${from}/%3B/../${to}`,
      `/${from}/.../${to}`,
      `/${from}/%20/../${to}`,
    );
  }
  return cases;
}

const FIXED_CASES = [
  '/',
  '/orders',
  '/orders/',
  '/orders/1?x=1&y=/../admin',
  '/orders;x=1/1',
  '/orders;jsessionid=ABC',
  '/orders/1;v=2',
  '//orders',
  '///admin',
  '/orders//1',
  '/./orders',
  '/orders/.',
  '/orders/..',
  '/%6frders',
  '/%6Frders/1',
  '/ord%65rs',
  '/%61dmin',
  '/%2forders',
  '/%2Forders',
  '/orders%2f..%2fadmin',
  '/orders%00',
  '/orders/%00/../admin',
  '/orders%0a',
  '/orders%0d%0aX-Injected:%201',
  '/orders%7f',
  '/orders%c3%a9',
  '/orders/%c0%ae%c0%ae/admin',
  '/orders/%c0%af',
  '/orders/%80',
  '/orders/%ed%a0%80',
  '/orders/%f8%88%80%80%80',
  '/orders/%fe',
  '/orders%',
  '/orders%2',
  '/orders%zz',
  '/orders%%32%65',
  '/orders/%252e%252e/admin',
  '/ORDERS',
  '/Orders/1',
  '/orders-archive',
  '/ordersx/../admin',
  '/admin/',
  '/admin/../',
  '/api/v1/../v2',
  '/api/v1/..%2fv2',
  '/api/%76%31/x',
  '/static/a.css',
  '/static\\..\\admin',
  '\\admin',
  'http://gw.test/orders',
  'http://gw.test/public/../admin',
  'https://evil.test/admin',
  'HTTP://gw.test/orders',
  '//gw.test/admin',
  '*',
  'orders',
  '../admin',
  '%2forders',
  '/orders/é',
  '/orders/\u00ff',
  '/orders\t/1',
  '/orders /1',
  `/orders/${'a'.repeat(4_000)}`,
  `/orders/${'a'.repeat(8_100)}`,
  `/orders/${'a'.repeat(9_000)}`,
  `/orders/${'a'.repeat(20_000)}`,
  `/public${'/..'.repeat(500)}/admin`,
  `/public${'/x'.repeat(2_000)}${'/..'.repeat(2_000)}/../admin`,
  `/${'%2e%2e/'.repeat(300)}admin`,
  `/orders/${'%41'.repeat(2_800)}`,
  // forwarded as sent when every reading agrees, refused when they do not
  '/orders/a%2Fb',
  '/orders/a%2fb/c',
  '/orders/a%5Cb',
  '/orders/a\\b',
  '/orders/1//2',
  '/orders//',
  '/public//..//admin',
  '/public/a%2F..%2F..%2Fadmin',
  '/public/%5C..%5Cadmin',
  '/public\\..\\admin',
  '/orders;a%2F..%2F..%2Fadmin',
  '/orders/x;a=%2F..%2F..%2Fadmin',
  '//evil.test/admin',
  '//orders/1',
  '/\\evil.test/admin',
  '/%5Cevil.test/admin',
  '/%2F/admin',
  '/static//evil.test/../admin',
];

/** A seeded generator (mulberry32), so a failure can be replayed. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FRAGMENTS = [
  '/', '/', '/', '.', '..', '%2e', '%2E', '%2f', '%2F', '%5c', '\\', ';', ';x=1', '//', '?', '#', '%25', '%00', '%c0%ae',
  '%6f', '%6F', 'orders', 'public', 'admin', 'internal', 'api', 'v1', 'static', 'rders', 'dmin', '%3b', '%3B', '%3f', '%20',
  '%c3%a9', '%ff', 'x', '1', '~', '!', '$', '&', "'", '(', '*', '+', ',', '=', ':', '@',
];

function randomCases(count: number, seed = 20261123): string[] {
  const random = seeded(seed);
  const cases: string[] = [];
  for (let i = 0; i < count; i++) {
    let target = '/';
    const parts = 1 + Math.floor(random() * 10);
    for (let j = 0; j < parts; j++) target += FRAGMENTS[Math.floor(random() * FRAGMENTS.length)];
    cases.push(target);
  }
  return cases;
}

/**
 * How a backend might read the path it received: as is; WHATWG-style (`\\` as `/`, dots
 * resolved); percent-decoded; servlet-style (`;` parameters stripped, before or after decoding
 * `%2F`); IIS-style (`\\` and `%5C` as `/`); each with runs of `/` merged (nginx, Apache, Spring)
 * or kept (Node, Express, gunicorn). Written independently of src/routing/path.ts.
 */
function backendReadings(received: string): string[] {
  const path = received.split('?')[0]!;
  const bases = [path, path.replaceAll('\\', '/'), path.replace(/%5c/gi, '/').replaceAll('\\', '/')];
  try {
    bases.push(decodeURIComponent(path));
  } catch {
    // not decodable as UTF-8: a backend would refuse it, which is no misrouting
  }
  const stripped = (p: string) => p.split('/').map((seg) => seg.split(';')[0]).join('/');
  bases.push(stripped(path), stripped(path.replace(/%2f/gi, '/')), path.replace(/%2f/gi, '/'));
  const readings = [path];
  try {
    readings.push(new URL(path, 'http://backend.test').pathname); // `//host/x` reads as host + `/x`
  } catch {
    // not a URL a WHATWG parser accepts (`//` alone): such a backend refuses it
  }
  for (const base of bases) readings.push(resolveDots(base, true), resolveDots(base, false));
  return [...new Set(readings)];
}

/** RFC 3986 dot-segment removal; `merge` also drops empty segments. */
function resolveDots(path: string, merge: boolean): string {
  const out: string[] = [];
  const segments = path.split('/').slice(1);
  segments.forEach((seg, i) => {
    if (seg === '..') out.pop();
    else if (seg !== '.' && !(merge && seg === '')) out.push(seg);
    if ((seg === '..' || seg === '.' || (merge && seg === '')) && i === segments.length - 1) out.push('');
  });
  return '/' + out.join('/');
}

let gw: TestGateway;
let table: RouteTable;

beforeAll(async () => {
  gw = await startTestGateway();
  for (const route of ROUTES) expect((await admin(gw, 'POST', '/routes', route)).status).toBe(201);
  table = new RouteTable(await gw.store.list());
}, 30_000);
afterAll(async () => {
  await gw.stop();
});

interface Tally {
  cases: number;
  refused: Record<number, number>;
  forwarded: number;
  mismatches: string[];
}

async function runCorpus(targets: string[]): Promise<Tally> {
  const tally: Tally = { cases: 0, refused: {}, forwarded: 0, mismatches: [] };
  const port = Number(new URL(gw.proxyUrl).port);
  for (const target of targets) {
    tally.cases++;
    const before = gw.legacy.received.length + gw.modern.received.length;
    const method = target === '*' ? 'OPTIONS' : 'GET';
    const res = await rawRequest(port, Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`, 'latin1'));
    const got: Received[] = [...gw.legacy.received, ...gw.modern.received].slice(0);
    const after = got.length;
    if (res.status >= 400 && res.status < 500) {
      tally.refused[res.status] = (tally.refused[res.status] ?? 0) + 1;
      if (after !== before) tally.mismatches.push(`${target}: refused with ${res.status} but a backend saw it`);
      continue;
    }
    if (res.status !== 200 || after !== before + 1) {
      tally.mismatches.push(`${target}: status ${res.status}, ${after - before} backend requests`);
      continue;
    }
    tally.forwarded++;
    const backend = res.headers['x-strangler-backend'] as 'legacy' | 'modern';
    const received = gw[backend].received.at(-1)!.url;
    const chosen = res.headers['x-strangler-route'];
    for (const reading of backendReadings(received)) {
      const id = table.match(reading)?.id ?? 'default';
      if (id !== chosen) tally.mismatches.push(`${target}: gateway chose ${chosen}, backend got ${received} (read as ${reading} → ${id})`);
    }
  }
  return tally;
}

describe('one path interpretation, end to end', () => {
  it(
    'refuses or routes every target exactly as the backend reads the path it receives',
    async () => {
      const targets = [...FIXED_CASES, ...templateCases(), ...randomCases(RANDOM_CASES)];
      const tally = await runCorpus(targets);
      const refused = Object.values(tally.refused).reduce((a, b) => a + b, 0);
      console.log(
        `[figures] path corpus: ${tally.cases} cases, ${refused} refused (${JSON.stringify(tally.refused)}), ` +
          `${tally.forwarded} forwarded, ${tally.mismatches.length} mismatches`,
      );
      expect(tally.mismatches).toEqual([]);
      expect(tally.cases).toBeGreaterThanOrEqual(200 + RANDOM_CASES);
      expect(tally.forwarded).toBeGreaterThan(50);
      expect(refused).toBeGreaterThan(50);
    },
    CHAOS ? 300_000 : 60_000,
  );
});
