import type { HistoryEntry, Route } from '../../../src/routing/schema.js';
import { call } from '../api.js';
import { time, value } from '../format.js';
import { changedFields } from '../history-diff.js';
import type { PendingChange } from './confirm-dialog.js';

/** Every version of the route, newest first, with what each changed; any earlier one can be restored. */
export function RouteHistory({ route, history, propose }: { route: Route; history: readonly HistoryEntry[]; propose: (c: PendingChange) => void }) {
  const revert = (entry: HistoryEntry) => {
    const changes = changedFields(route, entry.after);
    propose({
      title: `Revert ${route.id} to version ${entry.version}`,
      lines: changes.length === 0 ? ['No setting differs; a new version is written anyway.'] : changes.map((c) => `${c.field}: ${value(c.before)} → ${value(c.after)}`),
      confirmLabel: `Revert to version ${entry.version}`,
      run: async (reason) =>
        void (await call('POST', `routes/${encodeURIComponent(route.id)}/rollback`, { body: { toVersion: entry.version, reason }, ifMatch: route.version })),
    });
  };
  return (
    <section class="panel wide" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <div class="scroll">
        <table class="history">
          <thead>
            <tr>
              <th scope="col" class="num">Version</th>
              <th scope="col">When (UTC)</th>
              <th scope="col">Action</th>
              <th scope="col">By</th>
              <th scope="col">Changed</th>
              <th scope="col">Reason</th>
              <th scope="col"><span class="sr-only">Revert</span></th>
            </tr>
          </thead>
          <tbody>
            {history.map((entry) => (
              <tr key={entry.version} data-version={entry.version}>
                <td class="num">{entry.version}</td>
                <td class="num left">{time(entry.at)}</td>
                <td>{entry.action}</td>
                <td>{entry.actor}</td>
                <td>
                  <Changes entry={entry} />
                </td>
                <td>{entry.reason ?? ''}</td>
                <td>
                  {entry.after !== null && entry.version < route.version && (
                    <button type="button" onClick={() => revert(entry)} aria-label={`Revert to version ${entry.version}`}>
                      Revert…
                    </button>
                  )}
                  {entry.version === route.version && <span class="sub">current</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Changes({ entry }: { entry: HistoryEntry }) {
  if (entry.before === null) return <span class="sub">created</span>;
  if (entry.after === null) return <span class="sub">deleted</span>;
  const changes = changedFields(entry.before, entry.after);
  if (changes.length === 0) return <span class="sub">no setting</span>;
  return (
    <ul class="changes">
      {changes.map((c) => (
        <li key={c.field}>
          <code>{c.field}</code> {value(c.before, 40)} → {value(c.after, 40)}
        </li>
      ))}
    </ul>
  );
}
