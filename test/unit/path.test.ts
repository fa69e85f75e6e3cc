import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { normaliseTarget, isCanonicalPrefix } from '../../src/routing/path.js';

type OkCase = [target: string, path: string, query: string, altPath: string | undefined];
type RejectCase = [target: string, reason: RegExp];

function expectOk(target: string, path: string, query: string, altPath: string | undefined): void {
  expect(normaliseTarget(target)).toEqual({ ok: true, path, query, altPath });
}

function expectReject(target: string, reason: RegExp): void {
  const result = normaliseTarget(target);
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.reason).toMatch(reason);
}

describe('normaliseTarget: already canonical (fast path)', () => {
  it.each<OkCase>([
    ['/', '/', '', undefined],
    ['/orders', '/orders', '', undefined],
    ['/orders/', '/orders/', '', undefined],
    ['/orders/42', '/orders/42', '', undefined],
    ['/orders/42?x=1', '/orders/42', '?x=1', undefined],
    ['/api/v1/users/me', '/api/v1/users/me', '', undefined],
    ['/a-b_c~d.e', '/a-b_c~d.e', '', undefined],
    ["/!$&'()*+,=:@", "/!$&'()*+,=:@", '', undefined],
    ['/file.tar.gz', '/file.tar.gz', '', undefined],
    ['/?', '/', '?', undefined],
    ['/orders?', '/orders', '?', undefined],
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
    ['/orders?x=1&y=/../z', '/orders', '?x=1&y=/../z', undefined],
    ['/orders?a=%2f%2F%00%zz', '/orders', '?a=%2f%2F%00%zz', undefined],
    ['/orders?a=\\b', '/orders', '?a=\\b', undefined],
    ['/orders?a=;b//c', '/orders', '?a=;b//c', undefined],
    ['/orders?x=1?y=2', '/orders', '?x=1?y=2', undefined],
    ['/a/../b?c=/./d', '/b', '?c=/./d', undefined],
    ['//orders?x', '/orders', '?x', undefined],
    ['/%6frders?%6f', '/orders', '?%6f', undefined],
    ['/orders;x?y;z', '/orders;x', '?y;z', '/orders'],
  ])('%s → path %s, query %s', expectOk);
});

describe('normaliseTarget: rule 4 (backslash and percent-encoding)', () => {
  it.each<RejectCase>([
    ['/orders\\1', /backslash/],
    ['/orders\\', /backslash/],
    ['/..\\orders', /backslash/],
    ['/orders%2f1', /encoded slash/],
    ['/orders%2F1', /encoded slash/],
    ['/public/..%2Forders', /encoded slash/],
    ['/orders%5C1', /encoded backslash/],
    ['/orders%5c1', /encoded backslash/],
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
    ['/%6frders', '/orders', '', undefined],
    ['/%6F%72%64%65%72%73', '/orders', '', undefined],
    ['/%41%5A%61%7A%30%39', '/AZaz09', '', undefined],
    ['/a%2Db%5Fc%7Ed%2Ee', '/a-b_c~d.e', '', undefined],
    ['/a%2eb', '/a.b', '', undefined],
    ['/%3a', '/%3A', '', undefined],
    ['/%3A', '/%3A', '', undefined],
    ['/a%20b', '/a%20b', '', undefined],
    ['/a%3fb', '/a%3Fb', '', undefined],
    ['/a%23b', '/a%23b', '', undefined],
    ['/a%3bb', '/a%3Bb', '', undefined],
    ['/%25', '/%25', '', undefined],
    ['/%2541', '/%2541', '', undefined],
    ['/%252e%252e/x', '/%252e%252e/x', '', undefined],
    ['/%252F', '/%252F', '', undefined],
    ['/caf%C3%A9', '/caf%C3%A9', '', undefined],
    ['/caf%c3%a9', '/caf%C3%A9', '', undefined],
    ['/caf%C3%a9', '/caf%C3%A9', '', undefined],
    ['/%E2%82%AC', '/%E2%82%AC', '', undefined],
    ['/%e2%82%ac/%f0%9f%98%80', '/%E2%82%AC/%F0%9F%98%80', '', undefined],
    ['/%C3%A9%C3%A9', '/%C3%A9%C3%A9', '', undefined],
    ['/%C3%A9a%C3%A9', '/%C3%A9a%C3%A9', '', undefined],
    ['/%EF%BB%BF', '/%EF%BB%BF', '', undefined],
    ['/%F4%8F%BF%BF', '/%F4%8F%BF%BF', '', undefined],
    ['/%C3%A9%41', '/%C3%A9A', '', undefined],
  ])('%s → %s', expectOk);
});

describe('normaliseTarget: rule 5 (merge slashes)', () => {
  it.each<OkCase>([
    ['//orders', '/orders', '', undefined],
    ['//a///b', '/a/b', '', undefined],
    ['/a//', '/a/', '', undefined],
    ['///', '/', '', undefined],
    ['//', '/', '', undefined],
    ['/orders//42//', '/orders/42/', '', undefined],
    ['//a//..', '/', '', undefined],
  ])('%s → %s', expectOk);
});

describe('normaliseTarget: rule 6 (dot segments)', () => {
  it.each<OkCase>([
    ['/public/../orders', '/orders', '', undefined],
    ['/public/%2e%2e/orders', '/orders', '', undefined],
    ['/public/%2E%2e/orders', '/orders', '', undefined],
    ['/public/.%2E/orders', '/orders', '', undefined],
    ['/public/%2e./orders', '/orders', '', undefined],
    ['/./orders/1', '/orders/1', '', undefined],
    ['/%2e/orders/1', '/orders/1', '', undefined],
    ['/a/./b', '/a/b', '', undefined],
    ['/a/b/../c', '/a/c', '', undefined],
    ['/..', '/', '', undefined],
    ['/../..', '/', '', undefined],
    ['/../orders', '/orders', '', undefined],
    ['/a/..', '/', '', undefined],
    ['/a/b/..', '/a/', '', undefined],
    ['/a/b/.', '/a/b/', '', undefined],
    ['/a/b/%2e', '/a/b/', '', undefined],
    ['/.', '/', '', undefined],
    ['/a/b/c/../../d', '/a/d', '', undefined],
    ['/a/../../../b', '/b', '', undefined],
    ['/a/.//b', '/a/b', '', undefined],
    ['/...', '/...', '', undefined],
    ['/a/.../b', '/a/.../b', '', undefined],
    ['/.a', '/.a', '', undefined],
    ['/a/.well-known', '/a/.well-known', '', undefined],
    ['/..a/b', '/..a/b', '', undefined],
    ['/a../b', '/a../b', '', undefined],
    ['/%2e%2e%2e', '/...', '', undefined],
  ])('%s → %s', expectOk);
});

describe('normaliseTarget: rule 7 (never empty, trailing slash kept)', () => {
  it.each<OkCase>([
    ['/orders/', '/orders/', '', undefined],
    ['/orders/./', '/orders/', '', undefined],
    ['/orders/x/../', '/orders/', '', undefined],
    ['/x/..?q', '/', '?q', undefined],
    ['/%2e%2e/', '/', '', undefined],
  ])('%s → %s', expectOk);
});

describe('normaliseTarget: altPath (";" path parameters)', () => {
  it.each<OkCase>([
    ['/orders;x=1/1', '/orders;x=1/1', '', '/orders/1'],
    ['/orders;jsessionid=1/42', '/orders;jsessionid=1/42', '', '/orders/42'],
    ['/a;x/b;y=2', '/a;x/b;y=2', '', '/a/b'],
    ['/public/..;/orders', '/public/..;/orders', '', '/orders'],
    ['/public/%2e%2e;/orders', '/public/..;/orders', '', '/orders'],
    ['/public/.;/orders', '/public/.;/orders', '', '/public/orders'],
    ['/a/..;x=1', '/a/..;x=1', '', '/'],
    ['/a/b/..;', '/a/b/..;', '', '/a/'],
    ['/a;b;c', '/a;b;c', '', '/a'],
    ['/;x/orders', '/;x/orders', '', '/orders'],
    ['/a/;/b', '/a/;/b', '', '/a/b'],
    ['/orders/;x', '/orders/;x', '', '/orders/'],
    ['/orders;x/', '/orders;x/', '', '/orders/'],
    ['//a;x//../b', '/b', '', undefined],
    ['/orders?x;y', '/orders', '?x;y', undefined],
    ['/a%3Bb', '/a%3Bb', '', undefined],
  ])('%s → path %s, altPath %s', expectOk);
});

describe('normaliseTarget: rule 8 (length)', () => {
  const seg = 'a'.repeat(8191);
  it.each<OkCase>([
    ['/' + seg, '/' + seg, '', undefined],
    ['/' + seg + '?' + 'q'.repeat(10_000), '/' + seg, '?' + 'q'.repeat(10_000), undefined],
    ['/' + seg.slice(1) + '/x/..', '/' + seg.slice(1) + '/', '', undefined],
    ['//' + seg, '/' + seg, '', undefined],
    ['/x/../' + seg, '/' + seg, '', undefined],
    ['/%61' + 'a'.repeat(8190), '/' + seg, '', undefined],
  ])('%# long path is accepted', expectOk);

  it.each<RejectCase>([
    ['/' + seg + 'a', /too long/],
    ['/' + 'a'.repeat(100_000), /too long/],
    ['/' + seg + 'a/', /too long/],
    ['/./' + seg + 'a', /too long/],
    ['/' + seg + '%C3%A9', /too long/],
  ])('%# over-long path is refused', expectReject);

  it('measures the length after normalisation', () => {
    const long = '/a/..'.repeat(5_000) + '/orders';
    expectOk(long, '/orders', '', undefined);
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

  it('yields either a refusal or a canonical fixed point', () => {
    fc.assert(
      fc.property(target, (input) => {
        const result = normaliseTarget(input);
        if (!result.ok) return;
        const { path } = result;
        expect(path.startsWith('/')).toBe(true);
        expect(path).not.toContain('//');
        const segments = path.split('/');
        expect(segments).not.toContain('.');
        expect(segments).not.toContain('..');
        expect(normaliseTarget(path)).toEqual({ ok: true, path, query: '', altPath: result.altPath });
      }),
      { numRuns: 2_000 },
    );
  });

  it('is idempotent on arbitrary printable targets, and every kept % is an uppercase escape', () => {
    const printable = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
    const escape = fc.integer({ min: 0, max: 255 }).map((b) => '%' + b.toString(16).padStart(2, '0'));
    const piece = fc.oneof(printable, escape, fc.constantFrom('/', '/.', '/..', ';', '%C3%A9', '%c3'));
    const anyTarget = fc.array(piece, { maxLength: 30 }).map((parts) => '/' + parts.join(''));
    fc.assert(
      fc.property(anyTarget, (input) => {
        const result = normaliseTarget(input);
        if (!result.ok) return;
        expect(result.path).toMatch(/^\/(?:[!"$&->@-[\]-~]|%[0-9A-F]{2})*$/);
        expect(result.path).not.toContain('//');
        expect(normaliseTarget(result.path)).toEqual({ ok: true, path: result.path, query: '', altPath: result.altPath });
      }),
      { numRuns: 2_000 },
    );
  });

  it('altPath, when present, is itself canonical', () => {
    fc.assert(
      fc.property(target, (input) => {
        const result = normaliseTarget(input);
        if (!result.ok || result.altPath === undefined) return;
        expect(result.path).toContain(';');
        expect(result.altPath).not.toContain(';');
        expect(normaliseTarget(result.altPath)).toEqual({ ok: true, path: result.altPath, query: '', altPath: undefined });
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
