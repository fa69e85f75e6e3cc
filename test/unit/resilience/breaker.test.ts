import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CircuitBreaker,
  DEFAULT_BREAKER_OPTIONS,
  type BreakerOptions,
  type BreakerSnapshot,
  type BreakerState,
} from '../../../src/resilience/breaker.js';
import { fakeClock, type FakeClock } from './fake-clock.js';

type Transition = [from: BreakerState, to: BreakerState, snapshot: BreakerSnapshot];

function setup(options: Partial<BreakerOptions> = {}) {
  const clock = fakeClock();
  const transitions: Transition[] = [];
  const breaker = new CircuitBreaker(options, clock, (from, to, snapshot) => transitions.push([from, to, snapshot]));
  return { clock, breaker, transitions };
}

/** Acquires and reports `n` calls; each must be admitted. */
function calls(breaker: CircuitBreaker, n: number, outcome: 'success' | 'failure', durationMs = 10): void {
  for (let i = 0; i < n; i++) {
    expect(breaker.tryAcquire()).toBe(true);
    if (outcome === 'success') breaker.onSuccess(durationMs);
    else breaker.onFailure(durationMs);
  }
}

/** A breaker with the defaults (window 20, minimum 10, 50%, 30 s, 3 probes), tripped open. */
function opened(options: Partial<BreakerOptions> = {}) {
  const s = setup(options);
  calls(s.breaker, s.breaker.options.minimumCalls, 'failure');
  expect(s.breaker.state).toBe('open');
  return s;
}

function halfOpened(options: Partial<BreakerOptions> = {}) {
  const s = opened(options);
  s.clock.advance(s.breaker.options.openMs);
  expect(s.breaker.state).toBe('half-open');
  return s;
}

describe('CircuitBreaker: options', () => {
  it('uses the documented defaults', () => {
    expect(DEFAULT_BREAKER_OPTIONS).toEqual({
      failureRatePercent: 50,
      windowSize: 20,
      minimumCalls: 10,
      openMs: 30_000,
      halfOpenProbes: 3,
      slowCallMs: null,
    });
    expect(new CircuitBreaker({}, fakeClock()).options).toEqual(DEFAULT_BREAKER_OPTIONS);
  });

  it('merges given options over the defaults; an undefined value keeps the default', () => {
    const b = new CircuitBreaker({ windowSize: 5, minimumCalls: 2, openMs: undefined }, fakeClock());
    expect(b.options).toEqual({ ...DEFAULT_BREAKER_OPTIONS, windowSize: 5, minimumCalls: 2 });
  });

  it.each<[string, Partial<BreakerOptions>]>([
    ['failureRatePercent 0', { failureRatePercent: 0 }],
    ['failureRatePercent > 100', { failureRatePercent: 100.5 }],
    ['failureRatePercent NaN', { failureRatePercent: Number.NaN }],
    ['windowSize 0', { windowSize: 0 }],
    ['windowSize fractional', { windowSize: 2.5 }],
    ['windowSize huge', { windowSize: 10_001 }],
    ['minimumCalls 0', { minimumCalls: 0 }],
    ['minimumCalls above windowSize', { windowSize: 5, minimumCalls: 6 }],
    ['minimumCalls above the default windowSize', { minimumCalls: 21 }],
    ['openMs negative', { openMs: -1 }],
    ['openMs Infinity', { openMs: Number.POSITIVE_INFINITY }],
    ['halfOpenProbes 0', { halfOpenProbes: 0 }],
    ['halfOpenProbes fractional', { halfOpenProbes: 1.5 }],
    ['slowCallMs 0', { slowCallMs: 0 }],
    ['slowCallMs negative', { slowCallMs: -5 }],
    ['slowCallMs NaN', { slowCallMs: Number.NaN }],
  ])('throws a RangeError for %s', (_name, options) => {
    expect(() => new CircuitBreaker(options, fakeClock())).toThrow(RangeError);
  });

  it.each<Partial<BreakerOptions>>([
    { failureRatePercent: 100 },
    { failureRatePercent: 0.5 },
    { windowSize: 1, minimumCalls: 1 },
    { windowSize: 10, minimumCalls: 10 },
    { openMs: 0 },
    { halfOpenProbes: 1 },
    { slowCallMs: 1 },
  ])('accepts the edge of the range %o', (options) => {
    expect(() => new CircuitBreaker(options, fakeClock())).not.toThrow();
  });
});

describe('CircuitBreaker: closed', () => {
  it('starts closed with an empty window, and admits calls', () => {
    const { breaker, clock } = setup();
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot()).toEqual({
      state: 'closed',
      failureRatePercent: 0,
      callsInWindow: 0,
      failuresInWindow: 0,
      lastTransitionAt: clock.now(),
      nextProbeAt: null,
    });
    expect(breaker.tryAcquire()).toBe(true);
  });

  it('stays closed with minimumCalls - 1 calls, all failing', () => {
    const { breaker, transitions } = setup();
    calls(breaker, 9, 'failure');
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot()).toMatchObject({ callsInWindow: 9, failuresInWindow: 9, failureRatePercent: 100 });
    expect(transitions).toEqual([]);
  });

  it('opens on the call that reaches minimumCalls with the rate above the threshold', () => {
    const { breaker } = setup();
    calls(breaker, 9, 'failure');
    calls(breaker, 1, 'failure');
    expect(breaker.state).toBe('open');
  });

  it('opens when a success brings the window to minimumCalls with the rate still over the threshold', () => {
    const { breaker } = setup();
    calls(breaker, 9, 'failure');
    calls(breaker, 1, 'success'); // 9 of 10 failed
    expect(breaker.state).toBe('open');
  });

  it('opens when the failure rate exactly reaches the threshold', () => {
    const { breaker } = setup();
    calls(breaker, 5, 'success');
    calls(breaker, 4, 'failure');
    calls(breaker, 1, 'failure'); // 5 of 10 = 50%
    expect(breaker.state).toBe('open');
  });

  it('stays closed just below the threshold', () => {
    const { breaker } = setup();
    calls(breaker, 6, 'success');
    calls(breaker, 4, 'failure'); // 40%
    calls(breaker, 1, 'failure'); // 5 of 11 = 45.45%
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot().failureRatePercent).toBeCloseTo(45.45, 2);
    calls(breaker, 1, 'failure'); // 6 of 12 = 50%
    expect(breaker.state).toBe('open');
  });

  it('compares exactly for a threshold that is not a whole fraction', () => {
    const { breaker } = setup({ failureRatePercent: 30, minimumCalls: 10 });
    calls(breaker, 7, 'success');
    calls(breaker, 3, 'failure'); // 3 of 10 = 30%, no floating-point near-miss
    expect(breaker.state).toBe('open');
  });

  it('forgets old calls: windowSize successes after failures bring the rate down to 0', () => {
    const { breaker } = setup({ windowSize: 20, minimumCalls: 20 });
    calls(breaker, 9, 'failure');
    calls(breaker, 11, 'success');
    expect(breaker.snapshot()).toMatchObject({ callsInWindow: 20, failuresInWindow: 9, failureRatePercent: 45 });
    calls(breaker, 4, 'success'); // evicts 4 of the oldest failures
    expect(breaker.snapshot()).toMatchObject({ callsInWindow: 20, failuresInWindow: 5, failureRatePercent: 25 });
    calls(breaker, 16, 'success');
    expect(breaker.snapshot()).toMatchObject({ callsInWindow: 20, failuresInWindow: 0, failureRatePercent: 0 });
    expect(breaker.state).toBe('closed');
  });

  it('never counts more than windowSize calls', () => {
    const { breaker } = setup({ windowSize: 3, minimumCalls: 3 });
    calls(breaker, 100, 'success');
    expect(breaker.snapshot().callsInWindow).toBe(3);
  });

  it('opens on failures that are recent, after a long healthy run', () => {
    const { breaker } = setup();
    calls(breaker, 1000, 'success');
    calls(breaker, 9, 'failure');
    expect(breaker.state).toBe('closed'); // 9 of 20
    calls(breaker, 1, 'failure'); // 10 of 20
    expect(breaker.state).toBe('open');
  });

  it('release() records nothing while closed', () => {
    const { breaker } = setup();
    expect(breaker.tryAcquire()).toBe(true);
    breaker.release();
    expect(breaker.snapshot()).toMatchObject({ callsInWindow: 0, failuresInWindow: 0 });
  });
});

describe('CircuitBreaker: slow calls', () => {
  it('counts a slow success as a success when slowCallMs is off (the default)', () => {
    const { breaker } = setup();
    calls(breaker, 20, 'success', 3_600_000);
    expect(breaker.snapshot()).toMatchObject({ callsInWindow: 20, failuresInWindow: 0 });
  });

  it('counts a success slower than slowCallMs as a failure, and one exactly at it as a success', () => {
    const { breaker } = setup({ slowCallMs: 100 });
    calls(breaker, 1, 'success', 100);
    expect(breaker.snapshot().failuresInWindow).toBe(0);
    calls(breaker, 1, 'success', 101);
    expect(breaker.snapshot().failuresInWindow).toBe(1);
  });

  it('opens on slow calls alone', () => {
    const { breaker } = setup({ slowCallMs: 100 });
    calls(breaker, 10, 'success', 250);
    expect(breaker.state).toBe('open');
  });

  it('re-opens from half-open on a slow probe', () => {
    const { breaker } = halfOpened({ slowCallMs: 100 });
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onSuccess(150);
    expect(breaker.state).toBe('open');
  });
});

describe('CircuitBreaker: open', () => {
  it('refuses calls and reports when it will probe', () => {
    const { breaker, clock } = opened();
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.snapshot()).toMatchObject({ state: 'open', lastTransitionAt: clock.now(), nextProbeAt: clock.now() + 30_000 });
  });

  it('keeps the window that tripped it readable', () => {
    const { breaker } = opened();
    expect(breaker.snapshot()).toMatchObject({ callsInWindow: 10, failuresInWindow: 10, failureRatePercent: 100 });
  });

  it('stays open until openMs - 1 and turns half-open at exactly openMs', () => {
    const { breaker, clock } = opened();
    clock.advance(29_999);
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.snapshot().state).toBe('open');
    clock.advance(1);
    expect(breaker.snapshot()).toMatchObject({ state: 'half-open', nextProbeAt: null, lastTransitionAt: clock.now() });
  });

  it('applies an elapsed cool-down lazily in tryAcquire()', () => {
    const { breaker, clock, transitions } = opened();
    clock.advance(45_000);
    expect(breaker.tryAcquire()).toBe(true);
    expect(transitions.map(([from, to]) => `${from}->${to}`)).toEqual(['closed->open', 'open->half-open']);
    expect(transitions[1]![2].lastTransitionAt).toBe(clock.now());
  });

  it('applies an elapsed cool-down lazily in the state getter', () => {
    const { breaker, clock, transitions } = opened();
    clock.advance(30_000);
    expect(breaker.state).toBe('half-open');
    expect(transitions).toHaveLength(2);
  });

  it('ignores late outcomes of calls admitted before it opened', () => {
    const { breaker, clock, transitions } = setup();
    calls(breaker, 9, 'failure');
    for (let i = 0; i < 5; i++) expect(breaker.tryAcquire()).toBe(true); // in flight
    calls(breaker, 1, 'failure');
    expect(breaker.state).toBe('open');
    const before = breaker.snapshot();
    breaker.onSuccess(10);
    breaker.onFailure(10);
    breaker.onSuccess(10);
    breaker.release();
    breaker.onFailure(10);
    expect(breaker.snapshot()).toEqual(before);
    expect(transitions).toHaveLength(1);
    clock.advance(30_000);
    expect(breaker.state).toBe('half-open'); // the late failures did not restart the cool-down
  });

  it('turns half-open as soon as it is read when openMs is 0', () => {
    const { breaker, transitions } = setup({ openMs: 0 });
    calls(breaker, 10, 'failure');
    expect(transitions.map(([from, to]) => `${from}->${to}`)).toEqual(['closed->open']);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.state).toBe('half-open');
  });
});

describe('CircuitBreaker: half-open', () => {
  it('admits exactly halfOpenProbes probes', () => {
    const { breaker } = halfOpened();
    expect([breaker.tryAcquire(), breaker.tryAcquire(), breaker.tryAcquire()]).toEqual([true, true, true]);
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.tryAcquire()).toBe(false);
  });

  it.each([1, 2, 5])('admits exactly %i probes when configured so', (probes) => {
    const { breaker } = halfOpened({ halfOpenProbes: probes });
    let admitted = 0;
    for (let i = 0; i < probes + 5; i++) if (breaker.tryAcquire()) admitted++;
    expect(admitted).toBe(probes);
  });

  it('does not admit more after a probe succeeds: a successful probe keeps its slot', () => {
    const { breaker } = halfOpened();
    calls(breaker, 1, 'success');
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.state).toBe('half-open');
  });

  it('closes with an empty window once all probes succeed', () => {
    const { breaker, clock, transitions } = halfOpened();
    const probes = [breaker.tryAcquire(), breaker.tryAcquire(), breaker.tryAcquire()];
    expect(probes).toEqual([true, true, true]);
    clock.advance(5);
    breaker.onSuccess(5);
    breaker.onSuccess(5);
    expect(breaker.state).toBe('half-open');
    breaker.onSuccess(5);
    expect(breaker.snapshot()).toEqual({
      state: 'closed',
      failureRatePercent: 0,
      callsInWindow: 0,
      failuresInWindow: 0,
      lastTransitionAt: clock.now(),
      nextProbeAt: null,
    });
    expect(transitions.map(([from, to]) => `${from}->${to}`)).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
    expect(breaker.tryAcquire()).toBe(true);
  });

  it('re-opens on a probe failure, with a fresh cool-down and an empty window', () => {
    const { breaker, clock, transitions } = halfOpened();
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onSuccess(5);
    clock.advance(7);
    breaker.onFailure(7);
    expect(breaker.snapshot()).toEqual({
      state: 'open',
      failureRatePercent: 0,
      callsInWindow: 0,
      failuresInWindow: 0,
      lastTransitionAt: clock.now(),
      nextProbeAt: clock.now() + 30_000,
    });
    expect(transitions.map(([from, to]) => `${from}->${to}`)).toEqual(['closed->open', 'open->half-open', 'half-open->open']);
    clock.advance(29_999);
    expect(breaker.tryAcquire()).toBe(false);
    clock.advance(1);
    expect(breaker.tryAcquire()).toBe(true);
  });

  it('starts each half-open period with all probe slots free', () => {
    const { breaker, clock } = halfOpened();
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onFailure(1); // re-open; the other probe is still out
    clock.advance(30_000);
    breaker.release(); // the other probe ends late: nothing to free in this period
    expect([breaker.tryAcquire(), breaker.tryAcquire(), breaker.tryAcquire(), breaker.tryAcquire()]).toEqual([true, true, true, false]);
  });

  it('release() frees a probe slot, and only one per outstanding probe', () => {
    const { breaker } = halfOpened();
    expect([breaker.tryAcquire(), breaker.tryAcquire(), breaker.tryAcquire()]).toEqual([true, true, true]);
    breaker.release();
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.state).toBe('half-open');
  });

  it('release() cannot free the slot of a probe that already succeeded', () => {
    const { breaker } = halfOpened({ halfOpenProbes: 2 });
    calls(breaker, 2, 'success');
    expect(breaker.state).toBe('closed');
    const { breaker: b2 } = halfOpened({ halfOpenProbes: 2 });
    calls(b2, 1, 'success');
    b2.release(); // no probe outstanding: a stray release
    b2.release();
    expect(b2.tryAcquire()).toBe(true);
    expect(b2.tryAcquire()).toBe(false);
  });

  it('needs halfOpenProbes successes even when some probes were released', () => {
    const { breaker } = halfOpened();
    calls(breaker, 1, 'success');
    expect(breaker.tryAcquire()).toBe(true);
    breaker.release();
    calls(breaker, 1, 'success');
    expect(breaker.state).toBe('half-open');
    calls(breaker, 1, 'success');
    expect(breaker.state).toBe('closed');
  });

  it('ignores outcomes when no probe is outstanding', () => {
    const { breaker, transitions } = halfOpened();
    breaker.onFailure(1);
    breaker.onSuccess(1);
    breaker.onSuccess(1);
    breaker.onSuccess(1);
    expect(breaker.state).toBe('half-open');
    expect(transitions).toHaveLength(2);
  });

  it('does not take the late result of a call admitted before it opened for a probe', () => {
    const { breaker, clock } = setup();
    clock.advance(1_000);
    expect(breaker.tryAcquire()).toBe(true); // a slow call, started at t0 + 1 s
    const startedAt = clock.now();
    calls(breaker, 10, 'failure');
    expect(breaker.state).toBe('open');
    clock.advance(30_000);
    expect(breaker.tryAcquire()).toBe(true); // a real probe
    clock.advance(200);
    breaker.onFailure(clock.now() - startedAt); // the slow call finally fails: ignored
    expect(breaker.state).toBe('half-open');
    breaker.onSuccess(200); // the probe
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
  });
});

describe('CircuitBreaker: onStateChange and reset', () => {
  it('fires once per transition, never per call or per read, with the new state in the snapshot', () => {
    const { breaker, clock, transitions } = setup();
    calls(breaker, 10, 'failure');
    for (let i = 0; i < 10; i++) expect(breaker.tryAcquire()).toBe(false);
    clock.advance(30_000);
    for (let i = 0; i < 10; i++) void breaker.state;
    breaker.snapshot();
    breaker.tryAcquire();
    breaker.onFailure(1);
    clock.advance(30_000);
    calls(breaker, 3, 'success');
    calls(breaker, 5, 'success');
    expect(transitions.map(([from, to]) => `${from}->${to}`)).toEqual([
      'closed->open',
      'open->half-open',
      'half-open->open',
      'open->half-open',
      'half-open->closed',
    ]);
    for (const [, to, snapshot] of transitions) expect(snapshot.state).toBe(to);
  });

  it('passes the snapshot of the window that tripped it', () => {
    const { breaker, clock, transitions } = setup();
    calls(breaker, 5, 'success');
    calls(breaker, 5, 'failure');
    expect(transitions).toHaveLength(1);
    expect(transitions[0]![2]).toEqual({
      state: 'open',
      failureRatePercent: 50,
      callsInWindow: 10,
      failuresInWindow: 5,
      lastTransitionAt: clock.now(),
      nextProbeAt: clock.now() + 30_000,
    });
  });

  it('lets the listener read the breaker, already in its new state', () => {
    const clock = fakeClock();
    const seen: [BreakerState, BreakerState][] = [];
    const breaker: CircuitBreaker = new CircuitBreaker({}, clock, (_from, to) => seen.push([to, breaker.snapshot().state]));
    calls(breaker, 10, 'failure');
    clock.advance(30_000);
    calls(breaker, 3, 'success');
    expect(seen).toEqual([
      ['open', 'open'],
      ['half-open', 'half-open'],
      ['closed', 'closed'],
    ]);
  });

  it('works without a listener', () => {
    const breaker = new CircuitBreaker({}, fakeClock());
    calls(breaker, 10, 'failure');
    expect(breaker.state).toBe('open');
  });

  it('reset() closes an open breaker with an empty window, firing once', () => {
    const { breaker, clock, transitions } = opened();
    clock.advance(100);
    breaker.reset();
    expect(breaker.snapshot()).toEqual({
      state: 'closed',
      failureRatePercent: 0,
      callsInWindow: 0,
      failuresInWindow: 0,
      lastTransitionAt: clock.now(),
      nextProbeAt: null,
    });
    expect(transitions.map(([from, to]) => `${from}->${to}`)).toEqual(['closed->open', 'open->closed']);
  });

  it('reset() closes a half-open breaker, and later probe outcomes are counted as ordinary calls', () => {
    const { breaker, transitions } = halfOpened();
    expect(breaker.tryAcquire()).toBe(true);
    breaker.reset();
    expect(transitions.at(-1)!.slice(0, 2)).toEqual(['half-open', 'closed']);
    breaker.onFailure(1);
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', callsInWindow: 1, failuresInWindow: 1 });
  });

  it('reset() on a closed breaker empties the window without a transition', () => {
    const { breaker, transitions } = setup();
    const before = breaker.snapshot();
    calls(breaker, 9, 'failure');
    breaker.reset();
    expect(breaker.snapshot()).toEqual(before);
    expect(transitions).toEqual([]);
    calls(breaker, 9, 'failure');
    expect(breaker.state).toBe('closed'); // the old failures are gone
  });
});

describe('CircuitBreaker: properties', () => {
  const optionsArb = fc
    .record({
      windowSize: fc.integer({ min: 1, max: 30 }),
      minimumFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      failureRatePercent: fc.integer({ min: 1, max: 100 }),
      openMs: fc.integer({ min: 2, max: 1_000 }),
      halfOpenProbes: fc.integer({ min: 1, max: 5 }),
      slowCallMs: fc.option(fc.integer({ min: 1, max: 500 }), { nil: null }),
      timeoutFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ minimumFraction, timeoutFraction, ...o }) => ({
      options: { ...o, minimumCalls: 1 + Math.floor(minimumFraction * (o.windowSize - 1)) },
      // The caller's side of the contract: every call ends before openMs has passed.
      timeoutMs: 1 + Math.floor(timeoutFraction * (o.openMs - 2)),
    }));

  type Op =
    | { kind: 'acquire' }
    | { kind: 'success' | 'failure' | 'release'; pick: number }
    | { kind: 'advance'; ms: number };

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.constant<Op>({ kind: 'acquire' }), weight: 4 },
    { arbitrary: fc.record({ kind: fc.constant('success' as const), pick: fc.nat() }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('failure' as const), pick: fc.nat() }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }), weight: 1 },
  );

  interface Call {
    startedAt: number;
    /** The half-open period it was admitted in, or -1 if admitted while closed. */
    period: number;
  }

  it('stays consistent and never runs more than halfOpenProbes probes at once', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(opArb, { minLength: 50, maxLength: 250, size: 'max' }), ({ options, timeoutMs }, ops) => {
        const clock: FakeClock = fakeClock(0);
        let period = 0;
        let state: BreakerState = 'closed';
        const transitions: Transition[] = [];
        const breaker = new CircuitBreaker(options, clock, (from, to, snapshot) => {
          expect(from).not.toBe(to);
          expect(from).toBe(state); // transitions chain: each starts where the last ended
          state = to;
          if (to === 'half-open') period++;
          transitions.push([from, to, snapshot]);
        });
        const outstanding: Call[] = [];

        const end = (index: number, kind: 'success' | 'failure' | 'release') => {
          const [call] = outstanding.splice(index, 1);
          const duration = clock.now() - call!.startedAt;
          if (kind === 'success') breaker.onSuccess(duration);
          else if (kind === 'failure') breaker.onFailure(duration);
          else breaker.release();
        };

        for (const op of ops) {
          if (op.kind === 'acquire') {
            const admittedIn = breaker.state === 'half-open' ? period : -1;
            if (breaker.tryAcquire()) outstanding.push({ startedAt: clock.now(), period: admittedIn });
          } else if (op.kind === 'advance') {
            // Calls time out (fail) as the clock passes their timeout, oldest first.
            const target = clock.now() + op.ms;
            for (;;) {
              const first = outstanding.reduce<number>((best, c, i) => (best < 0 || c.startedAt < outstanding[best]!.startedAt ? i : best), -1);
              if (first < 0 || outstanding[first]!.startedAt + timeoutMs > target) break;
              clock.set(Math.max(clock.now(), outstanding[first]!.startedAt + timeoutMs));
              end(first, 'failure');
            }
            clock.set(target);
          } else if (outstanding.length > 0) {
            end(op.pick % outstanding.length, op.kind);
          }

          const s = breaker.snapshot();
          expect(['closed', 'open', 'half-open']).toContain(s.state);
          expect(s.state).toBe(state);
          expect(s.callsInWindow).toBeLessThanOrEqual(options.windowSize);
          expect(s.failuresInWindow).toBeLessThanOrEqual(s.callsInWindow);
          expect(s.failureRatePercent).toBeGreaterThanOrEqual(0);
          expect(s.failureRatePercent).toBeLessThanOrEqual(100);
          expect(s.nextProbeAt === null).toBe(s.state !== 'open');
          if (s.state === 'open') expect(s.nextProbeAt!).toBeGreaterThan(clock.now());
          if (s.state === 'closed') {
            // Closed means the window is below the trip condition.
            const tripped = s.callsInWindow >= options.minimumCalls && s.failuresInWindow * 100 >= options.failureRatePercent * s.callsInWindow;
            expect(tripped).toBe(false);
          }
          if (s.state === 'half-open') {
            const probes = outstanding.filter((c) => c.period === period).length;
            expect(probes).toBeLessThanOrEqual(options.halfOpenProbes);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('admits at most halfOpenProbes + releases calls in one half-open period, whatever order outcomes come in', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(opArb, { minLength: 50, maxLength: 250, size: 'max' }), ({ options }, ops) => {
        const clock = fakeClock(0);
        let admitted = 0;
        let releases = 0;
        let pending = 0;
        const breaker = new CircuitBreaker(options, clock, (_from, to) => {
          if (to === 'half-open') {
            admitted = 0;
            releases = 0;
          }
        });
        for (const op of ops) {
          if (op.kind === 'acquire') {
            if (breaker.tryAcquire()) {
              pending++;
              if (breaker.state === 'half-open') admitted++;
            }
          } else if (op.kind === 'advance') {
            clock.advance(op.ms);
          } else if (pending > 0) {
            pending--;
            if (op.kind === 'success') breaker.onSuccess(op.pick % 1_000);
            else if (op.kind === 'failure') breaker.onFailure(op.pick % 1_000);
            else {
              breaker.release();
              if (breaker.state === 'half-open') releases++;
            }
          }
          if (breaker.state === 'half-open') expect(admitted).toBeLessThanOrEqual(options.halfOpenProbes + releases);
        }
      }),
      { numRuns: 150 },
    );
  });
});
