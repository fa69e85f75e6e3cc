import type { Clock } from '../clock.js';
import type { ResponseTap } from '../proxy/attempt.js';
import { BodyCapture, headersOf } from './answer.js';
import type { CallOutcome } from './background-call.js';

/**
 * Legacy's answer to the client, kept as it streams by (see BodyCapture), so shadow mode can
 * compare it with modern's: the client's bytes are written first and never wait for this.
 */
export class LegacyTap implements ResponseTap {
  readonly outcome: Promise<CallOutcome>;
  private resolve!: (outcome: CallOutcome) => void;
  private readonly startedAt: number;
  private readonly capture = new BodyCapture();
  private status = 0;
  private headers: Record<string, string> = {};

  constructor(private readonly clock: Clock) {
    this.startedAt = clock.now();
    this.outcome = new Promise((resolve) => (this.resolve = resolve));
  }

  head(status: number, rawHeaders: Buffer[]): void {
    this.status = status;
    this.headers = headersOf(rawHeaders);
  }

  data(chunk: Buffer): void {
    this.capture.add(chunk);
  }

  /** The exchange ended: legacy's whole answer reached the client, or not (then nothing is compared). */
  finished(complete: boolean): void {
    if (!complete || this.status === 0) return this.resolve({ abandoned: true });
    this.resolve({ answer: { status: this.status, headers: this.headers, body: this.capture.finish() }, ms: this.clock.now() - this.startedAt });
  }
}
