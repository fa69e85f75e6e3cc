import { createHash, type Hash } from 'node:crypto';

/** Answers are compared whole up to this size; past it, by length and hash only. */
export const MAX_COMPARED_BYTES = 1024 * 1024;

/** One backend's answer as shadow mode compares it. */
export interface Answer {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Readonly<Record<string, string>>;
  body: CapturedBody;
}

export interface CapturedBody {
  length: number;
  /** The whole body, or undefined when it was longer than MAX_COMPARED_BYTES. */
  bytes: Buffer | undefined;
  /** SHA-256 (hex) of a body too long to keep; computed from `bytes` otherwise (bodyHash). */
  sha256: string | undefined;
}

/**
 * Keeps a body's chunks as they stream by, up to a limit; past it, only the length and an
 * incremental hash. Holds references to the chunks (no copy), so the streaming answer pays a
 * push per chunk.
 */
export class BodyCapture {
  private chunks: Buffer[] = [];
  private length = 0;
  private hash: Hash | undefined;

  constructor(private readonly limit = MAX_COMPARED_BYTES) {}

  add(chunk: Buffer): void {
    this.length += chunk.length;
    if (this.hash !== undefined) {
      this.hash.update(chunk);
      return;
    }
    this.chunks.push(chunk);
    if (this.length <= this.limit) return;
    this.hash = createHash('sha256');
    for (const kept of this.chunks) this.hash.update(kept);
    this.chunks = [];
  }

  finish(): CapturedBody {
    if (this.hash !== undefined) return { length: this.length, bytes: undefined, sha256: this.hash.digest('hex') };
    // Most small answers arrive in one chunk: no copy then.
    const bytes = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
    return { length: this.length, bytes, sha256: undefined };
  }
}

export function bodyHash(body: CapturedBody): string {
  return body.sha256 ?? createHash('sha256').update(body.bytes!).digest('hex');
}

/** undici's raw header list as a lower-case name → value record. */
export function headersOf(raw: readonly Buffer[] | readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString().toLowerCase();
    const value = raw[i + 1]!.toString();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}
