import { describe, expect, it } from 'vitest';
import { BodyCapture, type Answer } from '../../../src/shadow/answer.js';
import { compareAnswers, comparePolicy, MAX_DIFFERENCES } from '../../../src/shadow/compare.js';
import { ShadowSettings } from '../../../src/shadow/settings.js';

function answer(body: unknown, status = 200, headers: Record<string, string> = { 'content-type': 'application/json' }, limit?: number): Answer {
  const capture = new BodyCapture(limit);
  capture.add(Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
  return { status, headers, body: capture.finish() };
}

const policy = (settings: Partial<ShadowSettings> = {}) => comparePolicy(ShadowSettings.parse(settings));
const diff = (a: Answer, b: Answer, settings?: Partial<ShadowSettings>) => compareAnswers(a, b, policy(settings));

describe('compareAnswers', () => {
  it('finds nothing between identical answers', () => {
    expect(diff(answer({ a: 1 }), answer({ a: 1 }))).toEqual([]);
  });

  it('compares status and the headers that matter, plus compareHeaders', () => {
    const a = answer({}, 200, { 'content-type': 'application/json', location: '/x', etag: '"1"', date: 'a' });
    const b = answer({}, 302, { 'content-type': 'application/json', etag: '"2"', date: 'b' });
    expect(diff(a, b)).toEqual([
      { path: 'status', legacy: '200', modern: '302' },
      { path: 'headers.location', legacy: '/x', modern: '(absent)' },
    ]);
    expect(diff(a, b, { compareHeaders: ['etag'] }).map((d) => d.path)).toContain('headers.etag');
  });

  it('ignores key order, compares arrays by position unless unordered', () => {
    expect(diff(answer('{"a":1,"b":[1,2]}'), answer('{"b":[1,2],"a":1}'))).toEqual([]);
    expect(diff(answer({ t: [1, 2] }), answer({ t: [2, 1] })).map((d) => d.path)).toEqual(['$.t[0]', '$.t[1]']);
    expect(diff(answer({ t: [{ a: 1, b: 2 }, 3] }), answer({ t: [3, { b: 2, a: 1 }] }), { unorderedPaths: ['$.t'] })).toEqual([]);
    expect(diff(answer({ t: [1, 1, 2] }), answer({ t: [1, 2, 2] }), { unorderedPaths: ['$.t'] })).toHaveLength(1);
    // Ignored places inside the elements of an unordered array do not count either.
    const stamped = (at: number, id: number) => ({ id, at });
    expect(diff(answer({ t: [stamped(1, 1), stamped(2, 2)] }), answer({ t: [stamped(9, 2), stamped(8, 1)] }), { unorderedPaths: ['$.t'], ignorePaths: ['$.t[*].at'] })).toEqual([]);
  });

  it('reports missing keys and elements as absent, and skips ignorePaths', () => {
    expect(diff(answer({ a: 1, items: [1] }), answer({ items: [1, 2] }))).toEqual([
      { path: '$.a', legacy: '1', modern: '(absent)' },
      { path: '$.items[1]', legacy: '(absent)', modern: '2' },
    ]);
    const settings = { ignorePaths: ['$.meta', '$.items[*].at'] };
    expect(diff(answer({ meta: { id: 1 }, items: [{ at: 1, v: 1 }] }), answer({ meta: { id: 2 }, items: [{ at: 2, v: 1 }] }), settings)).toEqual([]);
  });

  it('compares text exactly, showing where it first differs', () => {
    const text = { 'content-type': 'text/html' };
    expect(diff(answer('<p>same</p>', 200, text), answer('<p>same</p>', 200, text))).toEqual([]);
    expect(diff(answer('<p>one</p>', 200, text), answer('<p>two</p>', 200, text))).toEqual([{ path: 'body', legacy: '@3: <p>one</p>', modern: '@3: <p>two</p>' }]);
  });

  it('compares other bodies, and bodies past the size limit, by length and hash', () => {
    const bin = { 'content-type': 'image/png' };
    expect(diff(answer(Buffer.from([1, 2]), 200, bin), answer(Buffer.from([1, 3]), 200, bin))[0]!.legacy).toMatch(/^2 bytes, sha256 [0-9a-f]{64}$/);
    const big = Buffer.alloc(100, 'a');
    expect(diff(answer(big, 200, bin, 10), answer(Buffer.from(big), 200, bin, 10))).toEqual([]);
    expect(diff(answer(big, 200, bin, 10), answer(Buffer.alloc(101, 'a'), 200, bin))).toHaveLength(1);
  });

  it('redacts listed paths, also inside a value shown whole, and secret headers', () => {
    const settings = { redactPaths: ['$.user.ssn'], compareHeaders: ['set-cookie'] };
    const a = answer({ user: { ssn: '1', n: 1 } }, 200, { 'content-type': 'application/json', 'set-cookie': 'sid=a' });
    const b = answer({ user: { ssn: '2', n: 1 }, extra: { ssn: 'x' } }, 200, { 'content-type': 'application/json', 'set-cookie': 'sid=b' });
    const out = diff(a, b, settings);
    expect(out).toContainEqual({ path: 'headers.set-cookie', legacy: '[redacted]', modern: '[redacted]' });
    expect(out).toContainEqual({ path: '$.user.ssn', legacy: '[redacted]', modern: '[redacted]' });
    expect(diff(answer({}), answer({ user: { ssn: '2' } }), settings)).toEqual([{ path: '$.user', legacy: '(absent)', modern: '{"ssn":"[redacted]"}' }]);
  });

  it('cuts long values and stops listing past MAX_DIFFERENCES', () => {
    const [d] = diff(answer({ a: 'x'.repeat(500) }), answer({ a: 'y' }));
    expect(d!.legacy.length).toBe(200);
    const many = (v: number) => answer(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, v])));
    expect(diff(many(1), many(2))).toHaveLength(MAX_DIFFERENCES);
  });

  it('treats JSON that does not parse as text', () => {
    expect(diff(answer('{bad'), answer('{bad!'))[0]!.path).toBe('body');
  });
});
