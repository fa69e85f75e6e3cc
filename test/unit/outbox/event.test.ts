import { describe, expect, it } from 'vitest';
import { OutboxEvent, eventOf } from '../../../src/outbox/event.js';
import type { HistoryAction } from '../../../src/routing/schema.js';

const stamp = { id: 'e-1', at: '2030-01-01T00:00:00.000Z', version: 4 };
const route = (stage: 'legacy' | 'shadow' | 'canary' | 'modern' | 'retired', canaryPercent = 0, pathPrefix = '/orders') => ({ id: 'orders', pathPrefix, stage, canaryPercent, version: 3 });

describe('eventOf', () => {
  it('gives a rollout move its event, with the figures of the reason in the text', () => {
    const event = eventOf('rollout', route('canary', 5), route('canary', 25), { actor: 'rollout', reason: 'step 3 of 5 (25%); step 2 passed' }, stamp);
    expect(event).toEqual({
      id: 'e-1',
      at: stamp.at,
      kind: 'rollout',
      routeId: 'orders',
      pathPrefix: '/orders',
      version: 4,
      actor: 'rollout',
      reason: 'step 3 of 5 (25%); step 2 passed',
      fromStage: 'canary',
      toStage: 'canary',
      canaryPercent: 25,
      text: 'Route /orders: rollout moved canary 5% → canary 25% (by rollout): step 3 of 5 (25%); step 2 passed',
    });
    expect(OutboxEvent.parse(event)).toEqual(event);
  });

  it.each<[HistoryAction, string, string, string]>([
    ['stage', 'shadow', 'canary', 'Route /orders: stage moved shadow → canary 0% (by alice)'],
    ['rollback', 'canary', 'legacy', 'Route /orders: rolled back canary 0% → legacy (by alice)'],
    ['update', 'legacy', 'canary', 'Route /orders: changed legacy → canary 0% (by alice)'],
    ['flip', 'modern', 'legacy', 'Route /orders: flipped modern → legacy (by alice)'],
  ])('a %s from %s to %s is a stage event', (action, from, to, text) => {
    const event = eventOf(action, route(from as never), route(to as never), { actor: 'alice' }, stamp);
    expect(event).toMatchObject({ kind: 'stage', fromStage: from, toStage: to, reason: null, text });
  });

  it('a stage change is an event even when the stage stays (a forced repeat); a change that keeps the stage is none', () => {
    expect(eventOf('stage', route('canary'), route('canary'), { actor: 'a' }, stamp)).toBeDefined();
    expect(eventOf('update', route('canary', 5), route('canary', 50), { actor: 'a' }, stamp)).toBeUndefined();
    expect(eventOf('rollback', route('legacy'), route('legacy'), { actor: 'a' }, stamp)).toBeUndefined();
  });

  it('creating a route is no move; deleting one past legacy is, deleting a legacy one is not', () => {
    expect(eventOf('create', null, route('canary', 5), { actor: 'a' }, stamp)).toBeUndefined();
    expect(eventOf('delete', route('legacy'), null, { actor: 'a' }, stamp)).toBeUndefined();
    expect(eventOf('delete', route('canary', 10), null, { actor: 'a', reason: 'gone' }, stamp)).toMatchObject({
      kind: 'stage',
      fromStage: 'canary',
      toStage: null,
      canaryPercent: null,
      text: 'Route /orders: deleted at canary 10%; legacy serves its prefix (by a): gone',
    });
  });

  it('names the route by its prefix after the change', () => {
    expect(eventOf('stage', route('legacy', 0, '/old'), route('shadow', 0, '/new'), { actor: 'a' }, stamp)?.pathPrefix).toBe('/new');
  });
});
