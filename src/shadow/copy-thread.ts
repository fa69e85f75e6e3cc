import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Answer } from './answer.js';
import { MessageBatch, ownBytes, type CopyCall, type CopyResult, type PostedCall, type ToCopyThread } from './copy-protocol.js';
import type { ShadowSettings } from './settings.js';

type Resolve = (result: CopyResult) => void;

/** Keys told to one thread before it is told to forget them all: bounds what it keeps per target and route version. */
const MAX_KEYS = 1_024;

/**
 * The main thread's side of shadow mode's copy thread (copy-worker.ts): started with the first
 * copy, so a gateway without shadow routes runs no thread. A thread that dies abandons its
 * copies (not modern's fault) and the next copy starts a new one.
 */
export class CopyThread {
  private worker: Worker | undefined;
  private batch: MessageBatch<ToCopyThread> | undefined;
  private readonly waiting = new Map<number, Resolve>();
  private nextId = 1;
  /** What the running thread was told, by object: a route's settings and a backend's target stay the same objects until they change. */
  private keys = new WeakMap<object, number>();
  private keyCount = 0;

  constructor(private readonly logger: Logger) {}

  /** Sends the copies of one request; `done` runs once they ended and `answer` handed legacy's answer over (and before, with `ended`, when they ended first). */
  copy(timeoutMs: number, modern: CopyCall, again: CopyCall | undefined, done: Resolve): number {
    const id = this.nextId++;
    this.waiting.set(id, done);
    const batch = this.channel();
    // posted() tells a new target first, so the thread knows its key before the copy that names it.
    batch.push({ kind: 'copy', id, timeoutMs, modern: this.posted(modern), again: again && this.posted(again) });
    return id;
  }

  answer(id: number, answer: Answer | undefined, settings: ShadowSettings): void {
    if (!this.waiting.has(id)) return;
    const bytes = answer?.body.bytes;
    const sent = bytes === undefined ? answer : { ...answer!, body: { ...answer!.body, bytes: ownBytes(bytes) } };
    const batch = this.channel();
    batch.push({ kind: 'legacy', id, answer: sent, policy: this.keyOf(settings, (key) => ({ kind: 'policy', key, settings })) });
  }

  /** Stops the thread; copies still in flight are abandoned. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.stopped();
    await worker?.terminate();
  }

  private posted({ target, request }: CopyCall): PostedCall {
    return { target: this.keyOf(target, (key) => ({ kind: 'target', key, target })), request };
  }

  /** The running thread's batch; when its keys are full it forgets them all first, so no message names a key from before. */
  private channel(): MessageBatch<ToCopyThread> {
    const batch = this.started();
    if (this.keyCount + 2 > MAX_KEYS) {
      this.keys = new WeakMap();
      this.keyCount = 0;
      batch.push({ kind: 'forget' });
    }
    return batch;
  }

  /** The key the running thread knows `value` by, telling it first when it is new. */
  private keyOf(value: object, tell: (key: number) => ToCopyThread): number {
    let key = this.keys.get(value);
    if (key === undefined) {
      this.keys.set(value, (key = ++this.keyCount));
      this.batch!.push(tell(key));
    }
    return key;
  }

  private started(): MessageBatch<ToCopyThread> {
    if (this.batch !== undefined) return this.batch;
    this.keys = new WeakMap(); // a new thread knows no keys
    this.keyCount = 0;
    const worker = startWorker();
    worker.unref(); // copies in flight never hold the process open
    worker.on('message', (batch: CopyResult[]) => {
      for (const result of batch) {
        const done = this.waiting.get(result.id);
        if (result.outcome !== 'ended') this.waiting.delete(result.id);
        done?.(result);
      }
    });
    worker.on('error', (err) => this.logger.warn({ err }, 'the shadow copy thread failed; its copies are abandoned'));
    worker.on('exit', () => {
      if (this.worker === worker) this.stopped();
    });
    this.worker = worker;
    return (this.batch = new MessageBatch((batch) => worker.postMessage(batch)));
  }

  private stopped(): void {
    this.worker = undefined;
    this.batch = undefined;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const [id, done] of waiting) done({ id, outcome: 'abandoned' });
  }
}

/**
 * The built gateway runs the compiled copy-worker.js. Run from source (tests, tsx), the thread
 * needs tsx's loader registered before it imports the .ts file.
 */
function startWorker(): Worker {
  const compiled = new URL('./copy-worker.js', import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return new Worker(compiled, { resourceLimits: COPY_THREAD_HEAP });
  const source = new URL('./copy-worker.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(source)}); })`, { eval: true, resourceLimits: COPY_THREAD_HEAP });
}

/**
 * The copy thread's heap, bounded: its copies are at most maxInFlight answers of up to 1 MiB
 * per route, and a small young generation keeps what it holds between collections small. A
 * thread past the bound dies; its copies are abandoned and the next copy starts a new one.
 */
const COPY_THREAD_HEAP = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 256 };
