import { useState } from 'preact/hooks';
import { ApiError, call, get } from '../api.js';
import { count, ms, percent, time, value } from '../format.js';
import { usePoll } from '../poll.js';
import type { ShadowReport } from '../../../src/shadow/report.js';
import type { PendingChange } from './confirm-dialog.js';

/**
 * The shadow results, shown while the route is in shadow mode or has comparisons to show; hidden
 * where the gateway has no shadow endpoint (404).
 */
export function ShadowPanel({ routeId, mode, propose }: { routeId: string; mode: string; propose: (c: PendingChange) => void }) {
  const [report, setReport] = useState<ShadowReport | null>(null);
  usePoll(async () => {
    try {
      setReport(await get<ShadowReport>(`routes/${encodeURIComponent(routeId)}/shadow`));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setReport(null);
      else throw err;
    }
  }, [routeId]);
  if (report === null || (mode !== 'shadow' && report.compared === 0)) return null;
  const clear = () =>
    propose({
      title: `Clear ${routeId}'s shadow results`,
      lines: [`${count(report.compared)} comparisons and ${report.samples.length} samples are dropped; counting starts again.`],
      confirmLabel: 'Clear the results',
      run: async () => void (await call('DELETE', `routes/${encodeURIComponent(routeId)}/shadow`)),
    });
  return (
    <section class="panel wide" aria-labelledby="shadow-title">
      <h2 id="shadow-title">Shadow results</h2>
      <div class="glance">
        <div class="stat">
          <span class="label">Match rate</span>
          <span class="big num" data-stat="shadow-match-rate">{percent(report.matchRate)}</span>
          <span class="sub">since {time(report.since)}</span>
        </div>
        <dl class="facts">
          <dt>Compared</dt>
          <dd class="num" data-stat="shadow-compared">{count(report.compared)}</dd>
          <dt>Matched / mismatched</dt>
          <dd class="num">{count(report.matched)} / {count(report.mismatched)}</dd>
          <dt>Errors</dt>
          <dd class="num">{count(report.errors)}</dd>
          <dt>Skipped</dt>
          <dd class="num">
            {count(report.skipped.total)}{' '}
            {Object.entries(report.skipped.byReason)
              .filter(([, n]) => n > 0)
              .map(([reason, n]) => `${reason} ${n}`)
              .join(', ')}
          </dd>
          <dt>p50 / p99 legacy</dt>
          <dd class="num">{ms(report.latency.legacy.p50)} / {ms(report.latency.legacy.p99)}</dd>
          <dt>p50 / p99 modern</dt>
          <dd class="num">{ms(report.latency.modern.p50)} / {ms(report.latency.modern.p99)}</dd>
        </dl>
        <div>
          <h3>Top differing paths</h3>
          {report.topPaths.length === 0 ? (
            <p class="note">No differences.</p>
          ) : (
            <ol class="top-paths">
              {report.topPaths.map((p) => (
                <li key={p.path}>
                  <code>{p.path}</code> <span class="num">{count(p.count)}</span>
                </li>
              ))}
            </ol>
          )}
          {report.noiseFields.length > 0 && <p class="sub">Ignored as noise: {report.noiseFields.join(', ')}</p>}
        </div>
      </div>
      {report.samples.length > 0 && <Samples samples={report.samples} />}
      <button type="button" onClick={clear}>Clear results…</button>
    </section>
  );
}

function Samples({ samples }: { samples: ShadowReport['samples'] }) {
  return (
    <div class="scroll">
      <table class="samples">
        <caption>Recent differing answers</caption>
        <thead>
          <tr>
            <th scope="col">When (UTC)</th>
            <th scope="col">Request</th>
            <th scope="col" class="num">Legacy</th>
            <th scope="col" class="num">Modern</th>
            <th scope="col">Differences</th>
          </tr>
        </thead>
        <tbody>
          {samples.map((s, i) => (
            <tr key={i}>
              <td class="num">{time(s.at)}</td>
              <td class="mono">
                {s.method} {s.path}
              </td>
              <td class="num">{s.legacyStatus}</td>
              <td class="num">{s.modernStatus}</td>
              <td>
                <ul class="changes">
                  {s.differences.map((d) => (
                    <li key={d.path}>
                      <code>{d.path}</code> {value(d.legacy, 40)} → {value(d.modern, 40)}
                    </li>
                  ))}
                </ul>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
