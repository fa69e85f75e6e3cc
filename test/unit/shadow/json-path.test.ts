import { describe, expect, it } from 'vitest';
import { formatPath, generalise, matches, parsePath, within } from '../../../src/shadow/json-path.js';

describe('shadow path syntax', () => {
  it.each([
    ['$', []],
    ['$.meta.requestId', ['meta', 'requestId']],
    ['$.items[*].updatedAt', ['items', '*', 'updatedAt']],
    ['$.items[2]', ['items', 2]],
  ])('parses %s', (text, steps) => expect(parsePath(text)).toEqual(steps));

  it.each(['meta.requestId', '$.', '$..a', '$.a[x]', '$[', '$.a b'])('refuses %s', (text) => expect(parsePath(text)).toBeUndefined());

  it('matches a path exactly, [*] standing for any index but never a key', () => {
    const pattern = parsePath('$.items[*].at')!;
    expect(matches(pattern, ['items', 3, 'at'])).toBe(true);
    expect(matches(pattern, ['items', 'x', 'at'])).toBe(false);
    expect(matches(pattern, ['items', 3])).toBe(false);
  });

  it('within covers everything below the pattern', () => {
    expect(within(parsePath('$.user')!, ['user', 'email'])).toBe(true);
    expect(within(parsePath('$.user')!, ['users'])).toBe(false);
  });

  it('formats paths, quoting keys outside the syntax, and generalises indices', () => {
    expect(formatPath(['items', 2, 'price'])).toBe('$.items[2].price');
    expect(formatPath(['a b'])).toBe('$["a b"]');
    expect(generalise('$.items[2].tags[10]')).toBe('$.items[*].tags[*]');
  });
});
