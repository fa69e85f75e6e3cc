import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BodyCapture, bodyHash, headersOf } from '../../../src/shadow/answer.js';

describe('BodyCapture', () => {
  it('keeps a body up to its limit whole', () => {
    const capture = new BodyCapture(10);
    capture.add(Buffer.from('hello '));
    capture.add(Buffer.from('you'));
    expect(capture.finish()).toEqual({ length: 9, bytes: Buffer.from('hello you'), sha256: undefined });
  });

  it('past the limit keeps only the length and the hash of every byte, chunk by chunk', () => {
    const chunks = ['0123456789', 'abcdefghij', 'xyz'].map((s) => Buffer.from(s));
    const capture = new BodyCapture(15);
    for (const chunk of chunks) capture.add(chunk);
    const body = capture.finish();
    const whole = Buffer.concat(chunks);
    expect(body).toEqual({ length: 23, bytes: undefined, sha256: createHash('sha256').update(whole).digest('hex') });
    expect(bodyHash({ length: 23, bytes: whole, sha256: undefined })).toBe(body.sha256);
  });
});

describe('headersOf', () => {
  it('lower-cases names and joins repeated headers', () => {
    expect(headersOf(['Content-Type', 'a/b', 'Vary', 'x', 'vary', 'y'].map((s) => Buffer.from(s)))).toEqual({ 'content-type': 'a/b', vary: 'x, y' });
  });
});
