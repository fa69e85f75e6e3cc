import { describe, expect, it } from 'vitest';
import type { TrafficSample } from '../../../src/observe/traffic-window.js';
import { StepCounter } from '../../../src/rollout/step-counter.js';

const sample = (fields: Partial<TrafficSample>): TrafficSample => ({
  routeId: 'orders',
  side: 'modern',
  servedBy: 'modern',
  upstream: 'modern',
  status: 200,
  durationMs: 3,
  fallback: undefined,
  ...fields,
});

describe('StepCounter', () => {
  it('counts a modern-bound request legacy served by fallback as a modern failure; fall-through and a hedge legacy won are not failures', () => {
    const counter = new StepCounter();
    counter.record(sample({}));
    expect(counter.read('orders').modern.requests).toBe(0); // not watched yet
    counter.watch('orders');
    counter.record(sample({}));
    counter.record(sample({ status: 502 }));
    counter.record(sample({ servedBy: 'legacy', upstream: 'legacy', fallback: 'upstream-5xx' }));
    counter.record(sample({ servedBy: 'legacy', upstream: 'legacy', fallback: 'breaker-open' }));
    counter.record(sample({ servedBy: 'legacy', upstream: 'legacy', fallback: 'hedge', durationMs: 900 }));
    counter.record(sample({ servedBy: 'legacy', upstream: 'legacy', fallback: 'fallthrough-404' }));
    counter.record(sample({ side: 'legacy', servedBy: 'legacy', status: 500 }));
    counter.record(sample({ routeId: 'other', status: 500 }));
    const counts = counter.read('orders');
    expect(counts.modern).toMatchObject({ requests: 5, failures: 3 });
    expect(counts.legacy).toMatchObject({ requests: 1, failures: 1 });
    counter.watch('orders');
    expect(counter.read('orders').modern.requests).toBe(0);
  });
});
