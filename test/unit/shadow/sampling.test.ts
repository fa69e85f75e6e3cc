import { describe, expect, it } from 'vitest';
import { decideCopy, MAX_COPY_BODY_BYTES } from '../../../src/shadow/sampling.js';
import { ShadowSettings } from '../../../src/shadow/settings.js';

const settings = (s: Partial<ShadowSettings> = {}) => ShadowSettings.parse(s);
const get = { method: 'GET', hasIdempotencyKey: false, bodyBytes: null } as const;
const always = () => 0;
const never = () => 0.999;

describe('decideCopy', () => {
  it('copies GET, HEAD and OPTIONS by default, and noise-samples only GET and HEAD', () => {
    const all = settings({ noisePercent: 100 });
    expect(decideCopy(get, all, always)).toEqual({ copy: true, noise: true });
    expect(decideCopy({ ...get, method: 'HEAD' }, all, always)).toEqual({ copy: true, noise: true });
    expect(decideCopy({ ...get, method: 'OPTIONS' }, all, always)).toEqual({ copy: true, noise: false });
  });

  it('never copies a write unless listed, and POST or PATCH only with an Idempotency-Key', () => {
    expect(decideCopy({ ...get, method: 'PUT' }, settings(), always)).toEqual({ copy: false, reason: 'method' });
    const writes = settings({ methods: ['PUT', 'POST', 'PATCH', 'DELETE'], noisePercent: 100 });
    expect(decideCopy({ ...get, method: 'PUT' }, writes, always)).toEqual({ copy: true, noise: false });
    expect(decideCopy({ ...get, method: 'POST' }, writes, always)).toEqual({ copy: false, reason: 'method' });
    expect(decideCopy({ ...get, method: 'PATCH', hasIdempotencyKey: true }, writes, always)).toEqual({ copy: true, noise: false });
    expect(decideCopy(get, writes, always)).toEqual({ copy: false, reason: 'method' });
  });

  it('samples by samplePercent and noisePercent', () => {
    expect(decideCopy(get, settings({ samplePercent: 50 }), never)).toEqual({ copy: false, reason: 'notSampled' });
    expect(decideCopy(get, settings({ samplePercent: 50 }), () => 0.49)).toMatchObject({ copy: true });
    expect(decideCopy(get, settings({ samplePercent: 0 }), always)).toEqual({ copy: false, reason: 'notSampled' });
    expect(decideCopy(get, settings({ noisePercent: 5 }), () => 0.05)).toEqual({ copy: true, noise: false });
  });

  it('skips bodies over 64 KiB and bodies of unknown length', () => {
    const put = settings({ methods: ['PUT'] });
    expect(decideCopy({ ...get, method: 'PUT', bodyBytes: MAX_COPY_BODY_BYTES }, put, always)).toMatchObject({ copy: true });
    expect(decideCopy({ ...get, method: 'PUT', bodyBytes: MAX_COPY_BODY_BYTES + 1 }, put, always)).toEqual({ copy: false, reason: 'bodyTooLarge' });
    expect(decideCopy({ ...get, method: 'PUT', bodyBytes: 'unknown' }, put, always)).toEqual({ copy: false, reason: 'bodyTooLarge' });
  });
});
