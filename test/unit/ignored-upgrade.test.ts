import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { headWithoutUpgrade } from '../../src/proxy/ignored-upgrade.js';

function request(rawHeaders: string[], method = 'GET', url = '/a?b=1', httpVersion = '1.1'): IncomingMessage {
  return { method, url, httpVersion, rawHeaders } as unknown as IncomingMessage;
}

describe('headWithoutUpgrade', () => {
  it('drops Upgrade, HTTP2-Settings and their Connection tokens, and keeps everything else as sent', () => {
    const head = headWithoutUpgrade(
      request(['Host', 'gw.test', 'Connection', 'keep-alive, Upgrade ,HTTP2-Settings', 'Upgrade', 'h2c', 'HTTP2-Settings', 'AAMAAABk', 'X-A', 'r\u00e9sum\u00e9']),
    );
    expect(head.toString('latin1')).toBe('GET /a?b=1 HTTP/1.1\r\nHost: gw.test\r\nConnection: keep-alive\r\nX-A: r\u00e9sum\u00e9\r\n\r\n');
    expect(head.includes(Buffer.from([0xe9]))).toBe(true); // one byte per character, as received
  });

  it('drops a Connection header that named only the upgrade', () => {
    const head = headWithoutUpgrade(request(['Host', 'h', 'connection', 'upgrade', 'upgrade', 'TLS/1.2', 'Content-Length', '3'], 'POST', '/x', '1.0'));
    expect(head.toString('latin1')).toBe('POST /x HTTP/1.0\r\nHost: h\r\nContent-Length: 3\r\n\r\n');
  });
});
