import type { PoolSettings } from '../backends/upstream.js';
import type { Answer } from './answer.js';
import type { CopyRequest } from './background-call.js';
import type { Difference } from './compare.js';
import type { ShadowSettings } from './settings.js';

/**
 * The messages between shadow mode (main thread) and its copy thread (copy-worker.ts). The main
 * thread hands over each copy and, once the client has it, legacy's answer; the copy thread
 * sends the copies, compares, and hands back only the differences.
 */

/** Where a copy goes: the thread builds (and keeps) its own pool per backend. */
export interface CopyTarget {
  origin: string;
  pool: PoolSettings;
}

export interface CopyCall {
  target: CopyTarget;
  request: CopyRequest;
}

/** A copy as posted: its target by the key the thread was told it under. */
export interface PostedCall {
  target: number;
  request: CopyRequest;
}

/**
 * Targets and settings are the same for many copies: the thread is told each once, under a key
 * (`target`, `policy`), and copies name it by that key. `forget` drops every key told so far.
 */
export type ToCopyThread =
  | { kind: 'target'; key: number; target: CopyTarget }
  | { kind: 'policy'; key: number; settings: ShadowSettings }
  | { kind: 'forget' }
  /** Send these copies now: to modern, and for a noise sample to legacy again. */
  | { kind: 'copy'; id: number; timeoutMs: number; modern: PostedCall; again: PostedCall | undefined }
  /** Legacy's answer as the client got it (undefined: it did not reach the client whole), and the policy to compare by. */
  | { kind: 'legacy'; id: number; answer: Answer | undefined; policy: number };

/**
 * How one copied request ended, once its copies ended and legacy's answer was in; `ended` comes
 * first when the copies ended before legacy's answer (their slots are free, the result follows).
 */
export type CopyResult =
  | { id: number; outcome: 'ended' }
  | { id: number; outcome: 'abandoned' }
  | { id: number; outcome: 'error' }
  | {
      id: number;
      outcome: 'compared';
      modernMs: number;
      modernStatus: number;
      /** Between legacy and modern, learnt noise not yet left out. */
      differences: Difference[];
      /** Between legacy's two answers, for a noise sample whose second answer came. */
      betweenLegacy: Difference[] | undefined;
    };

/**
 * Messages posted in batches, one per turn of the event loop: a busy loop wakes the other
 * thread once for many copies instead of once each.
 */
export class MessageBatch<T> {
  private queue: T[] = [];

  constructor(private readonly post: (batch: T[]) => void) {}

  push(message: T): void {
    if (this.queue.length === 0) setImmediate(() => this.flush());
    this.queue.push(message);
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length > 0) this.post(batch);
  }
}

/** A structured clone turns a Buffer into a plain Uint8Array: the same bytes as a Buffer again, without a copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The bytes of `bytes` alone: a structured clone copies a view's whole ArrayBuffer, and a
 * Buffer is often a slice of a larger one (Node's pool, a socket read).
 */
export function ownBytes(bytes: Buffer): Buffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Buffer.from(new Uint8Array(bytes).buffer);
}
