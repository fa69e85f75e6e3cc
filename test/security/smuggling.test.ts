import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../helpers/raw-http.js';
import { startTestGateway, type TestGateway } from '../helpers/servers.js';

/**
 * Request smuggling: every framing that two HTTP parsers could read differently is refused
 * with a JSON 400 and the connection closed, so a request hidden behind it never runs. Each
 * case carries a pipelined second request that no backend may see.
 */
const HIDDEN = 'GET /smuggled HTTP/1.1\r\nHost: gw.test\r\n\r\n';

const CASES: [string, string][] = [
  ['two Host headers', 'GET /a HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n'],
  ['two Host headers, different case', 'GET /a HTTP/1.1\r\nHost: a.test\r\nhOsT: b.test\r\n\r\n'],
  ['no Host on HTTP/1.1', 'GET /a HTTP/1.1\r\nX-A: 1\r\n\r\n'],
  ['Content-Length and chunked', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['chunked and Content-Length', 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n'],
  ['Content-Length and gzip', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: gzip\r\n\r\nabcd'],
  ['gzip alone', 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabcd'],
  ['chunked, identity', 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
  ['chunked twice', 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['space before the colon', 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'],
  ['two Content-Lengths', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde'],
  ['two equal Content-Lengths', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd'],
  ['a Content-Length list', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\nabcd'],
  ['Content-Length 4x', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 4x\r\n\r\nabcd'],
  ['Content-Length -1', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\nabcd'],
  ['Content-Length +4', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\nabcd'],
  ['Content-Length 0x4', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0x4\r\n\r\nabcd'],
  ['Content-Length 4.0', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 4.0\r\n\r\nabcd'],
  ['Content-Length overflow', 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\nabcd'],
  ['bad chunk size', 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabcd\r\n0\r\n\r\n'],
  ['chunk size with a space', 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4 4\r\nabcd\r\n0\r\n\r\n'],
  ['obs-fold header', 'GET /a HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n'],
  ['LF-only line ends', 'GET /a HTTP/1.1\nHost: a\n\n'],
  ['bare CR', 'GET /a HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n'],
  ['NUL in a header value', 'GET /a HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n'],
  ['space in a header name', 'GET /a HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n'],
  ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
  ['HTTP/1.2', 'GET /a HTTP/1.2\r\nHost: a\r\n\r\n'],
  ['lower-case version', 'GET /a http/1.1\r\nHost: a\r\n\r\n'],
];

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw.stop();
});

describe('request smuggling', () => {
  it.each(CASES)('refuses %s with a JSON 400 and runs nothing behind it', async (_name, request) => {
    const before = gw.legacy.received.length;
    const res = await rawRequest(Number(new URL(gw.proxyUrl).port), request + HIDDEN);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.body).error.code).toMatch(/^BAD_REQUEST/);
    expect(res.raw.match(/HTTP\/1\.1 /g)).toHaveLength(1); // one answer: the hidden request never ran
    expect(gw.legacy.received.length).toBe(before);
  });

  it(`counts: ${CASES.length} framings refused`, () => {
    console.log(`[figures] smuggling: ${CASES.length} ambiguous framings, all refused with 400`);
    expect(CASES.length).toBeGreaterThanOrEqual(25);
  });
});
