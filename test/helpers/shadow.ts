import type { IncomingMessage, ServerResponse } from 'node:http';
import { expect } from 'vitest';
import { emptyCounts, record, type ShadowCounts } from '../../src/shadow/tally.js';
import { admin, startBackend, type StubBackend, type TestGateway } from './servers.js';

/** What a stub answers on one path: status, headers and a body (JSON-encoded unless a string or Buffer). */
export interface Canned {
  status?: number;
  headers?: Record<string, string>;
  body: unknown;
  /** Waits this long before answering. */
  delayMs?: number;
}

/** A backend answering each path (query left out) from `answers`, which the test may change at any time. */
export async function cannedBackend(name: string, answers: Record<string, Canned | (() => Canned)>): Promise<StubBackend & { bodies: string[] }> {
  const bodies: string[] = [];
  const backend = await startBackend(name, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString());
      const entry = answers[req.url!.split('?')[0]!];
      const canned = typeof entry === 'function' ? entry() : (entry ?? { status: 404, body: { error: 'none' } });
      const body = Buffer.isBuffer(canned.body) ? canned.body : Buffer.from(typeof canned.body === 'string' ? canned.body : JSON.stringify(canned.body));
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(canned.status ?? 200, { 'content-type': 'application/json', 'content-length': body.length, ...canned.headers });
        res.end(body);
      };
      if (canned.delayMs === undefined) send();
      else setTimeout(send, canned.delayMs);
    });
  });
  return Object.assign(backend, { bodies });
}

/** Creates route `id` on `prefix` in shadow mode with the given shadow settings. */
export async function shadowRoute(gw: TestGateway, id: string, prefix: string, shadow: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await admin(gw, 'POST', '/routes', { id, pathPrefix: prefix, mode: 'shadow', shadow, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** The route's shadow report once `done` holds of it (polled; shadow results arrive in the background). */
export async function reportWhen(gw: TestGateway, id: string, done: (report: any) => boolean): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const res = await admin(gw, 'GET', `/routes/${id}/shadow`);
    expect(res.status).toBe(200);
    if (done(res.body)) return res.body;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`shadow report of ${id} never satisfied the condition`);
}

export const compared = (n: number) => (r: { compared: number }) => r.compared >= n;

/** A flush's worth of shadow counts at `at`: `mismatches` mismatches (a sample each, paths `<prefix>/0`, `<prefix>/1`, …), then one match. */
export function shadowDelta(at: string, mismatches: number, noise: string[] = [], prefix = '/p'): ShadowCounts {
  const counts = emptyCounts();
  for (let i = 0; i < mismatches; i++) {
    record(counts, { result: 'mismatch', at, legacyMs: 1, modernMs: 2, sample: { at, method: 'GET', path: `${prefix}/${i}`, legacyStatus: 200, modernStatus: 500, differences: [] } });
  }
  record(counts, { result: 'match', at, legacyMs: 1, modernMs: 2 });
  counts.noise = noise;
  return counts;
}
