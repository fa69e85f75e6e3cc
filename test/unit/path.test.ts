import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { normaliseTarget, isCanonicalPrefix, readingsOf } from '../../src/routing/path.js';

type OkCase = [target: string, path: string, query: string, ambiguous: boolean];
type RejectCase = [target: string, reason: RegExp];

function expectOk(target: string, path: string, query: string, ambiguous: boolean): void {
  expect(normaliseTarget(target)).toEqual({ ok: true, path, query, ambiguous });
}

function expectReject(target: string, reason: RegExp): void {
  const result = normaliseTarget(target);
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.reason).toMatch(reason);
}

describe('normaliseTarget: already canonical (fast path)', () => {
  it.each<OkCase>([
    ['/', '/', '', false],
    ['/orders', '/orders', '', false],
    ['/orders/', '/orders/', '', false],
    ['/orders/42', '/orders/42', '', false],
    ['/orders/42?x=1', '/orders/42', '?x=1', false],
    ['/api/v1/users/me', '/api/v1/users/me', '', false],
    ['/a-b_c~d.e', '/a-b_c~d.e', '', false],
    ["/!$&'()*+,=:@", "/!$&'()*+,=:@", '', false],
    ['/file.tar.gz', '/file.tar.gz', '', false],
    ['/?', '/', '?', false],
    ['/orders?', '/orders', '?', false],
  ])('%s → path %s, query %s', expectOk);
});

describe('normaliseTarget: rule 1 (origin-form only)', () => {
  it.each<RejectCase>([
    ['', /empty/],
    ['*', /asterisk/],
    ['http://host/orders', /origin-form|absolute-form/],
    ['https://host:8443/orders?x=1', /absolute-form/],
    ['orders', /start.*"\/"/],
    ['host:80', /origin-form/],
    ['?x=1', /origin-form/],
    ['./orders', /origin-form/],
    ['\\orders', /origin-form/],
    [' /orders', /origin-form/],
  ])('%j is refused', expectReject);
});

describe('normaliseTarget: rule 2 (fragment, control and non-ASCII characters)', () => {
  it.each<RejectCase>([
    ['/a#b', /fragment/],
    ['/a#', /fragment/],
    ['/a?x=1#frag', /fragment/],
    ['/a?#', /fragment/],
    ['/a b', /control|space/],
    ['/a?x=1 2', /control|space/],
    ['/a\tb', /control/],
    ['/a\nb', /control/],
    ['/a\rb', /control/],
    ['/a\u0000b', /control/],
    ['/a\u001fb', /control/],
    ['/a\u007fb', /control/],
    ['/caf\u00e9', /non-ASCII/],
    ['/a?q=\u00e9', /non-ASCII/],
    ['/\u2028', /non-ASCII/],
    ['/\ud83d\ude00', /non-ASCII/],
    ['/\ud800', /non-ASCII/],
  ])('%j is refused', expectReject);
});

describe('normaliseTarget: rule 3 (query passed through verbatim)', () => {
  it.each<OkCase>([
    ['/orders?x=1&y=/../z', '/orders', '?x=1&y=/../z', false],
    ['/orders?a=%2f%2F%00%zz', '/orders', '?a=%2f%2F%00%zz', false],
    ['/orders?a=\\b', '/orders', '?a=\\b', false],
    ['/orders?a=;b//c', '/orders', '?a=;b//c', false],
    ['/orders?x=1?y=2', '/orders', '?x=1?y=2', false],
    ['/a/../b?c=/./d', '/b', '?c=/./d', false],
    ['//orders?x', '//orders', '?x', true],
    ['/%6frders?%6f', '/orders', '?%6f', false],
    ['/orders;x?y;z', '/orders;x', '?y;z', true],
  ])('%s → path %s, query %s', expectOk);
});

describe('normaliseTarget: rule 4 (percent-encoding)', () => {
  it.each<RejectCase>([
    ['/orders%00', /NUL/],
    ['/orders%01', /control/],
    ['/orders%0a', /control/],
    ['/orders%0D%0A', /control/],
    ['/orders%1F', /control/],
    ['/orders%7f', /control/],
    ['/%zz', /malformed/],
    ['/%4', /malformed/],
    ['/%', /malformed/],
    ['/a%', /malformed/],
    ['/%4g', /malformed/],
    ['/%g4', /malformed/],
    ['/%%41', /malformed/],
    ['/%C3%A9%4', /malformed/],
    ['/%C0%AE%C0%AE/x', /UTF-8/],
    ['/%c0%ae', /UTF-8/],
    ['/%C0%AF', /UTF-8/],
    ['/%E0%80%AE', /UTF-8/],
    ['/%F0%80%80%AE', /UTF-8/],
    ['/%C1%81', /UTF-8/],
    ['/%80', /UTF-8/],
    ['/%BF', /UTF-8/],
    ['/%C3', /UTF-8/],
    ['/%E2%82', /UTF-8/],
    ['/%C3a%A9', /UTF-8/],
    ['/%C3%41', /UTF-8/],
    ['/%ED%A0%80', /UTF-8/],
    ['/%ED%BF%BF', /UTF-8/],
    ['/%F4%90%80%80', /UTF-8/],
    ['/%FF', /UTF-8/],
    ['/%FE%FF', /UTF-8/],
  ])('%j is refused', expectReject);

  it.each<OkCase>([
    ['/%6frders', '/orders', '', false],
    ['/%6F%72%64%65%72%73', '/orders', '', false],
    ['/%41%5A%61%7A%30%39', '/AZaz09', '', false],
    ['/a%2Db%5Fc%7Ed%2Ee', '/a-b_c~d.e', '', false],
    ['/a%2eb', '/a.b', '', false],
    ['/%3a', '/%3a', '', false],
    ['/%3A', '/%3A', '', false],
    ['/a%20b', '/a%20b', '', false],
    ['/a%3fb', '/a%3fb', '', false],
    ['/a%23b', '/a%23b', '', false],
    ['/a%3bb', '/a%3bb', '', false],
    ['/%25', '/%25', '', false],
    ['/%2541', '/%2541', '', false],
    ['/%252e%252e/x', '/%252e%252e/x', '', false],
    ['/%252F', '/%252F', '', false],
    ['/caf%C3%A9', '/caf%C3%A9', '', false],
    ['/caf%c3%a9', '/caf%c3%a9', '', false],
    ['/caf%C3%a9', '/caf%C3%a9', '', false],
    ['/%E2%82%AC', '/%E2%82%AC', '', false],
    ['/%e2%82%ac/%f0%9f%98%80', '/%e2%82%ac/%f0%9f%98%80', '', false],
    ['/%C3%A9%C3%A9', '/%C3%A9%C3%A9', '', false],
    ['/%C3%A9a%C3%A9', '/%C3%A9a%C3%A9', '', false],
    ['/%EF%BB%BF', '/%EF%BB%BF', '', false],
    ['/%F4%8F%BF%BF', '/%F4%8F%BF%BF', '', false],
    ['/%C3%A9%41', '/%C3%A9A', '', false],
  ])('%s → %s', expectOk);

  it.each<OkCase>([
    ['/orders%2f1', '/orders%2f1', '', true],
    ['/orders%2F1', '/orders%2F1', '', true],
    ['/public/..%2Forders', '/public/..%2Forders', '', true],
    ['/orders%5C1', '/orders%5C1', '', true],
    ['/orders%5c1', '/orders%5c1', '', true],
    ['/orders\\1', '/orders\\1', '', true],
    ['/orders\\', '/orders\\', '', true],
    ['/..\\orders', '/..\\orders', '', true],
    ['/a/%2e%2e%2Fb', '/a/..%2Fb', '', true],
  ])('%s is forwarded as %s, ambiguous (backends read it differently)', expectOk);
});

describe('normaliseTarget: rule 5 (empty segments are kept, and make the path ambiguous)', () => {
  it.each<OkCase>([
    ['//orders', '//orders', '', true],
    ['//a///b', '//a///b', '', true],
    ['/a//', '/a//', '', true],
    ['///', '///', '', true],
    ['//', '//', '', true],
    ['/orders//42//', '/orders//42//', '', true],
    ['//a//..', '//a/', '', true],
    ['/a//../b', '/a/b', '', false],
  ])('%s → %s', expectOk);
});

describe('normaliseTarget: rule 6 (dot segments)', () => {
  it.each<OkCase>([
    ['/public/../orders', '/orders', '', false],
    ['/public/%2e%2e/orders', '/orders', '', false],
    ['/public/%2E%2e/orders', '/orders', '', false],
    ['/public/.%2E/orders', '/orders', '', false],
    ['/public/%2e./orders', '/orders', '', false],
    ['/./orders/1', '/orders/1', '', false],
    ['/%2e/orders/1', '/orders/1', '', false],
    ['/a/./b', '/a/b', '', false],
    ['/a/b/../c', '/a/c', '', false],
    ['/..', '/', '', false],
    ['/../..', '/', '', false],
    ['/../orders', '/orders', '', false],
    ['/a/..', '/', '', false],
    ['/a/b/..', '/a/', '', false],
    ['/a/b/.', '/a/b/', '', false],
    ['/a/b/%2e', '/a/b/', '', false],
    ['/.', '/', '', false],
    ['/a/b/c/../../d', '/a/d', '', false],
    ['/a/../../../b', '/b', '', false],
    ['/a/.//b', '/a//b', '', true],
    ['/...', '/...', '', false],
    ['/a/.../b', '/a/.../b', '', false],
    ['/.a', '/.a', '', false],
    ['/a/.well-known', '/a/.well-known', '', false],
    ['/..a/b', '/..a/b', '', false],
    ['/a../b', '/a../b', '', false],
    ['/%2e%2e%2e', '/...', '', false],
  ])('%s → %s', expectOk);
});

describe('normaliseTarget: rule 7 (never empty, trailing slash kept)', () => {
  it.each<OkCase>([
    ['/orders/', '/orders/', '', false],
    ['/orders/./', '/orders/', '', false],
    ['/orders/x/../', '/orders/', '', false],
    ['/x/..?q', '/', '?q', false],
    ['/%2e%2e/', '/', '', false],
  ])('%s → %s', expectOk);
});

describe('normaliseTarget: ";" path parameters are kept, and make the path ambiguous', () => {
  it.each<OkCase>([
    ['/orders;x=1/1', '/orders;x=1/1', '', true],
    ['/public/%2e%2e;/orders', '/public/..;/orders', '', true],
    ['//a;x//../b', '//a;x/b', '', true],
    ['/orders?x;y', '/orders', '?x;y', false],
    ['/a%3Bb', '/a%3Bb', '', false],
  ])('%s → path %s', expectOk);
});

describe('readingsOf: what other backends may read', () => {
  it.each<[string, string[]]>([
    ['/orders;x=1/1', ['/orders/1']],
    ['/orders;jsessionid=1/42', ['/orders/42']],
    ['/a;x/b;y=2', ['/a/b']],
    ['/public/..;/orders', ['/orders']],
    ['/public/.;/orders', ['/public/orders']],
    ['/a/..;x=1', ['/']],
    ['/a/b/..;', ['/a/']],
    ['/;x/orders', ['//orders', '/orders', '/']],
    ['/orders/;x', ['/orders/']],
    ['/anything/a%2Fb', ['/anything/a/b']],
    ['/public/..%2Fadmin', ['/admin']],
    ['/public/..%2f%2fadmin', ['//admin', '/admin']],
    ['/static\\..\\admin', ['/admin']],
    ['/a%5Cb', ['/a/b']],
    ['/orders//1', ['/orders/1']],
    ['//admin', ['/admin', '/']],
    ['//evil.test/admin', ['/evil.test/admin', '/admin']],
    ['/\\evil.test/admin', ['//evil.test/admin', '/evil.test/admin', '/admin']],
    ['/a//', ['/a/']],
  ])('%s → %j', (path, expected) => {
    expect(readingsOf(path).sort()).toEqual(expected.sort());
  });

  it('combines them: decoded and stripped in either order, merged or not', () => {
    const readings = readingsOf('/a;x%2F..%2Fb//c');
    expect(readings).toContain('/a//c'); // params stripped first: "a;x%2F..%2Fb" is one segment
    expect(readings).toContain('/a/c'); // … and merged
    expect(readings).toContain('/b//c'); // decoded first, then stripped: /a;x/../b//c
    expect(readings).toContain('/b/c');
    expect(readings).not.toContain('/a;x%2F..%2Fb//c');
  });
});

describe('normaliseTarget: rule 8 (length)', () => {
  const seg = 'a'.repeat(8191);
  it.each<OkCase>([
    ['/' + seg, '/' + seg, '', false],
    ['/' + seg + '?' + 'q'.repeat(10_000), '/' + seg, '?' + 'q'.repeat(10_000), false],
    ['/' + seg.slice(1) + '/x/..', '/' + seg.slice(1) + '/', '', false],
    ['/x/../' + seg, '/' + seg, '', false],
    ['/%61' + 'a'.repeat(8190), '/' + seg, '', false],
  ])('%# long path is accepted', expectOk);

  it.each<RejectCase>([
    ['/' + seg + 'a', /too long/],
    ['/' + 'a'.repeat(100_000), /too long/],
    ['/' + seg + 'a/', /too long/],
    ['/./' + seg + 'a', /too long/],
    ['/' + seg + '%C3%A9', /too long/],
    ['//' + seg, /too long/],
  ])('%# over-long path is refused', expectReject);

  it('measures the length after normalisation', () => {
    const long = '/a/..'.repeat(5_000) + '/orders';
    expectOk(long, '/orders', '', false);
  });
});

describe('normaliseTarget: fast path returns the input unchanged', () => {
  it('returns the same string for a canonical path', () => {
    const target = '/orders/42';
    const result = normaliseTarget(target);
    expect(result.ok && result.path).toBe(target);
  });
});

describe('normaliseTarget: property', () => {
  const alphabet = ['/', '.', '..', 'a', 'b', '%2e', '%2E', '%2f', '%41', ';x', '//', '?q', '\\'];
  const joined = fc.array(fc.constantFrom(...alphabet), { maxLength: 20 }).map((parts) => parts.join(''));
  // Half the inputs are forced to start with '/', so that enough of them are accepted to test.
  const target = fc.oneof(joined, joined.map((s) => '/' + s));

  it('yields either a refusal or a fixed point without dot segments', () => {
    fc.assert(
      fc.property(target, (input) => {
        const result = normaliseTarget(input);
        if (!result.ok) return;
        const { path } = result;
        expect(path.startsWith('/')).toBe(true);
        const segments = path.split('/');
        expect(segments).not.toContain('.');
        expect(segments).not.toContain('..');
        expect(normaliseTarget(path)).toEqual({ ok: true, path, query: '', ambiguous: result.ambiguous });
        expect(result.ambiguous).toBe(/%2f|%5c|\\|\/\/|;/i.test(path));
      }),
      { numRuns: 2_000 },
    );
  });

  it('is idempotent on arbitrary printable targets, and keeps every other escape as sent', () => {
    const printable = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
    const escape = fc.integer({ min: 0, max: 255 }).map((b) => '%' + b.toString(16).padStart(2, '0'));
    const piece = fc.oneof(printable, escape, fc.constantFrom('/', '/.', '/..', ';', '%C3%A9', '%c3'));
    const anyTarget = fc.array(piece, { maxLength: 30 }).map((parts) => '/' + parts.join(''));
    fc.assert(
      fc.property(anyTarget, (input) => {
        const result = normaliseTarget(input);
        if (!result.ok) return;
        expect(result.path).toMatch(/^\/(?:[!"$&->@-~]|%[0-9A-Fa-f]{2})*$/);
        expect(result.path).not.toMatch(/%(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[DEde]|5[Ff]|7[Ee])/); // unreserved are decoded
        expect(normaliseTarget(result.path)).toEqual({ ok: true, path: result.path, query: '', ambiguous: result.ambiguous });
      }),
      { numRuns: 2_000 },
    );
  });

  it('readings are absolute, without dot segments, and never the path itself', () => {
    fc.assert(
      fc.property(target, (input) => {
        const result = normaliseTarget(input);
        if (!result.ok) return;
        const readings = readingsOf(result.path);
        if (!result.ambiguous) expect(readings).toEqual([]);
        for (const reading of readings) {
          expect(reading.startsWith('/')).toBe(true);
          expect(reading).not.toBe(result.path);
          expect(reading.split('/')).not.toContain('..');
          expect(reading.split('/')).not.toContain('.');
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('isCanonicalPrefix', () => {
  it.each<[string, boolean]>([
    ['/', true],
    ['/orders', true],
    ['/api/v1/users', true],
    ['/a-b_c~d.e', true],
    ["/!$&'()*+,=:@", true],
    ['/.well-known/acme', true],
    ['/...', true],
    ['/' + 'a'.repeat(1023), true],
    ['/' + 'a'.repeat(1024), false],
    ['', false],
    ['orders', false],
    ['/orders/', false],
    ['//', false],
    ['/a//b', false],
    ['//a', false],
    ['/a/../b', false],
    ['/a/./b', false],
    ['/.', false],
    ['/..', false],
    ['/a/..', false],
    ['/%6frders', false],
    ['/%3A', false],
    ['/orders?x', false],
    ['/orders?', false],
    ['/a;b', false],
    ['/a#b', false],
    ['/a b', false],
    ['/a\\b', false],
    ['/caf\u00e9', false],
    ['http://host/orders', false],
    ['*', false],
  ])('%j → %s', (prefix, expected) => {
    expect(isCanonicalPrefix(prefix)).toBe(expected);
  });
});
