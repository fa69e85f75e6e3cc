/**
 * Shadow mode's copy thread (a worker thread, started by copy-thread.ts): sends the copies with
 * its own pools, compares modern's answer with legacy's, and posts back the differences. Its
 * sockets, parsing, comparing and garbage collection stay off the loop that serves clients.
 */
import { execFile } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import type { Pool } from 'undici';
import { createPool } from '../backends/upstream.js';
import { systemClock } from '../clock.js';
import type { Answer } from './answer.js';
import { sendCopy, type CallOutcome } from './background-call.js';
import { compareAnswers, comparePolicy, type ComparePolicy } from './compare.js';
import { MessageBatch, asBuffer, type CopyTarget, type CopyResult, type PostedCall, type ToCopyThread } from './copy-protocol.js';

/** Pools kept for this many backends; past it the oldest is closed (its copies finish first). */
const KEPT_POOLS = 32;
/** The nicest priority: on a shared core the client's thread gets the CPU first. */
const COPY_THREAD_NICE = 19;

const port = parentPort!;
const results = new MessageBatch<CopyResult>((batch) => port.postMessage(batch));
const pools = new Map<string, Pool>();
/** What the main thread told this one, by key (see ToCopyThread). */
const targets = new Map<number, KnownTarget>();
const policies = new Map<number, ComparePolicy>();
type KnownTarget = CopyTarget & { poolKey: string };
/** Copies sent and waiting for legacy's answer, by id. */
type Calls = { copies: Promise<[CallOutcome, CallOutcome | undefined]>; answered: boolean };
const calls = new Map<number, Calls>();

lowerOwnPriority();
port.on('message', (batch: ToCopyThread[]) => {
  for (const message of batch) receive(message);
});

function receive(message: ToCopyThread): void {
  switch (message.kind) {
    case 'target': {
      const { origin, pool } = message.target;
      targets.set(message.key, { origin, pool, poolKey: `${origin} ${pool.connections} ${pool.connectTimeoutMs}` });
      return;
    }
    case 'policy':
      return void policies.set(message.key, comparePolicy(message.settings));
    case 'forget':
      targets.clear();
      return policies.clear();
    case 'copy':
      return copy(message);
    case 'legacy': {
      const call = calls.get(message.id);
      calls.delete(message.id);
      if (call === undefined) return;
      call.answered = true;
      void settle(message.id, call, message.answer && revive(message.answer), policies.get(message.policy)!);
    }
  }
}

function copy({ id, timeoutMs, modern, again }: ToCopyThread & { kind: 'copy' }): void {
  const call: Calls = { copies: Promise.all([send(modern, timeoutMs), again && send(again, timeoutMs)]), answered: false };
  calls.set(id, call);
  // Copies that end before legacy's answer (a slow or long stream to the client) free their slots now.
  void call.copies.then(() => call.answered || results.push({ id, outcome: 'ended' }));
}

function send({ target, request }: PostedCall, timeoutMs: number): Promise<CallOutcome> {
  // The request is this thread's own (a structured clone): its body becomes a Buffer in place.
  if (request.body !== null) request.body = asBuffer(request.body);
  return sendCopy(poolFor(targets.get(target)!), request, timeoutMs, systemClock);
}

/** Posted once every copy of the request ended and legacy's answer came. */
async function settle(id: number, call: Calls, legacy: Answer | undefined, policy: ComparePolicy): Promise<void> {
  const [modern, again] = await call.copies;
  if (legacy === undefined || 'abandoned' in modern) return results.push({ id, outcome: 'abandoned' });
  if ('error' in modern) return results.push({ id, outcome: 'error' });
  results.push({
    id,
    outcome: 'compared',
    modernMs: modern.ms,
    modernStatus: modern.answer.status,
    differences: compareAnswers(legacy, modern.answer, policy),
    betweenLegacy: again !== undefined && 'answer' in again ? compareAnswers(legacy, again.answer, policy) : undefined,
  });
}

function poolFor({ origin, pool: settings, poolKey }: KnownTarget): Pool {
  let pool = pools.get(poolKey);
  if (pool === undefined) {
    pools.set(poolKey, (pool = createPool(origin, settings)));
    if (pools.size > KEPT_POOLS) {
      const [oldest, old] = pools.entries().next().value!;
      pools.delete(oldest);
      void old.close();
    }
  }
  return pool;
}

/** The answer's body bytes arrive as a Uint8Array: a Buffer again for the comparison. */
function revive(answer: Answer): Answer {
  const { bytes } = answer.body;
  return bytes === undefined ? answer : { ...answer, body: { ...answer.body, bytes: asBuffer(bytes) } };
}

/**
 * Lowers this thread's scheduling priority, so copies use the CPU the client's loop leaves idle.
 * On Linux a thread id names that thread alone: nice 19 at once, then SCHED_IDLE through chrt,
 * the one policy the kernel always preempts for a waking client thread (a nice thread may run
 * on for the rest of its slice, a millisecond or more). Elsewhere, or without chrt, it stays as is.
 */
function lowerOwnPriority(): void {
  let tid: number;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, COPY_THREAD_NICE);
  } catch {
    return; // no /proc/thread-self: not Linux
  }
  execFile('chrt', ['--idle', '--pid', '0', String(tid)], () => {});
}
