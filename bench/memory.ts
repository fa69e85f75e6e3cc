/**
 * Memory under large bodies: a 50 MiB streamed upload and a 50 MiB download through the gateway,
 * with its RSS before, at peak (sampled every 20 ms) and after. A proxy that streams with
 * backpressure grows by a few buffers, not by the body size.
 *
 * The pair runs twice on the same process. The first pass includes one-off growth (V8 and the
 * allocator sizing themselves for 64 KiB chunks); the second shows whether memory keeps growing
 * with every large body, which is what buffering or a leak would do.
 */
import http from 'node:http';
import { Readable } from 'node:stream';
import { rssBytes } from './procs.js';

export const BODY_BYTES = 50 * 1024 * 1024;
const PASSES = 2;
const CHUNK = Buffer.alloc(64 * 1024, 0x7a);
const MiB = 1024 * 1024;

export interface TransferPass {
  rssBeforeMiB: number;
  rssPeakUploadMiB: number;
  rssPeakDownloadMiB: number;
  rssAfterMiB: number;
  growthMiB: number;
  uploadMiBPerS: number;
  downloadMiBPerS: number;
}

export interface MemoryResult {
  bodyMiB: number;
  passes: TransferPass[];
  /** After the last pass minus before the first: the number the target is about. */
  growthMiB: number;
}

/** Uploads then downloads `bodyBytes` through `baseUrl + prefix`, twice, watching process `pid`. */
export async function measureLargeBodies(
  baseUrl: string,
  prefix: string,
  pid: number,
  bodyBytes = BODY_BYTES,
): Promise<MemoryResult> {
  // A few small requests first, so pools and code paths exist before the "before" reading.
  for (let i = 0; i < 20; i++) await request('GET', `${baseUrl}${prefix}/items/1`);
  const passes: TransferPass[] = [];
  for (let i = 0; i < PASSES; i++) passes.push(await transferPass(baseUrl, prefix, pid, bodyBytes));
  return {
    bodyMiB: bodyBytes / MiB,
    passes,
    growthMiB: passes[passes.length - 1]!.rssAfterMiB - passes[0]!.rssBeforeMiB,
  };
}

async function transferPass(baseUrl: string, prefix: string, pid: number, bodyBytes: number): Promise<TransferPass> {
  const before = mustRss(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid) ?? 0)), 20);
  try {
    const up = await timed(() => request('POST', `${baseUrl}${prefix}/sink`, bodyBytes));
    const peakUpload = Math.max(peak, mustRss(pid));
    peak = 0;
    const echoed = (JSON.parse(up.value.body) as { bytes: number }).bytes;
    if (up.value.status !== 200 || echoed !== bodyBytes) {
      throw new Error(`upload: status ${up.value.status}, backend received ${echoed} of ${bodyBytes} bytes`);
    }
    const down = await timed(() => request('GET', `${baseUrl}${prefix}/stream?bytes=${bodyBytes}`));
    if (down.value.status !== 200 || down.value.bytes !== bodyBytes) {
      throw new Error(`download: status ${down.value.status}, received ${down.value.bytes} of ${bodyBytes} bytes`);
    }
    const after = mustRss(pid);
    return {
      rssBeforeMiB: before / MiB,
      rssPeakUploadMiB: peakUpload / MiB,
      rssPeakDownloadMiB: Math.max(peak, after) / MiB,
      rssAfterMiB: after / MiB,
      growthMiB: (after - before) / MiB,
      uploadMiBPerS: bodyBytes / MiB / up.seconds,
      downloadMiBPerS: bodyBytes / MiB / down.seconds,
    };
  } finally {
    clearInterval(sampler);
  }
}

function mustRss(pid: number): number {
  const rss = rssBytes(pid);
  if (rss === undefined) throw new Error(`process ${pid} is gone`);
  return rss;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

interface Response {
  status: number;
  /** Bytes received; the body itself is kept only when small. */
  bytes: number;
  body: string;
}

/** A request whose upload (when `uploadBytes` is set) is generated chunk by chunk, with backpressure. */
function request(method: string, url: string, uploadBytes?: number): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = uploadBytes === undefined ? {} : { 'content-length': uploadBytes };
    const req = http.request(url, { method, headers, agent: false, timeout: 60_000 }, (res) => {
      let bytes = 0;
      let body = '';
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (body.length < 4096) body += chunk.toString('utf8');
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on('error', reject);
    if (uploadBytes === undefined) return void req.end();
    Readable.from(chunks(uploadBytes)).pipe(req);
  });
}

function* chunks(total: number): Generator<Buffer> {
  for (let left = total; left > 0; left -= CHUNK.length) {
    yield left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
  }
}
