import { useState } from 'preact/hooks';
import type { BackendView } from '../../../src/backends/schema.js';
import { describe, get } from '../api.js';
import { count } from '../format.js';
import { usePoll } from '../poll.js';

/** Every named backend: where it is, which side it serves, how full its bulkhead is, who uses it. */
export function Backends() {
  const [backends, setBackends] = useState<BackendView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  usePoll(async () => {
    try {
      setBackends((await get<{ backends: BackendView[] }>('backends')).backends);
      setError(null);
    } catch (err) {
      setError(describe(err));
      throw err;
    }
  }, []);
  return (
    <>
      <h1>Backends</h1>
      {error !== null && <p class="error" role="alert">Could not refresh: {error}</p>}
      {backends !== null && (
        <div class="scroll" role="region" tabIndex={0} aria-label="Backends table">
          <table class="backends">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">URL</th>
                <th scope="col" class="num">In flight / limit</th>
                <th scope="col">Routes using it</th>
              </tr>
            </thead>
            <tbody>
              {backends.map((b) => (
                <tr key={b.name} data-backend={b.name}>
                  <th scope="row">{b.name}</th>
                  <td>
                    <span class={`mode mode-${b.role}`}>{b.role}</span>
                  </td>
                  <td class="mono">{b.url}</td>
                  <td class="num">
                    <meter min={0} max={b.maxInFlight} value={b.inFlight} aria-label={`${b.name} in flight`} />{' '}
                    <span data-col="in-flight">{count(b.inFlight)}</span> / {count(b.maxInFlight)}
                  </td>
                  <td>
                    {b.routes.length === 0 ? (
                      <span class="sub">none</span>
                    ) : (
                      <ul class="inline">
                        {b.routes.map((id) => (
                          <li key={id}>
                            <a href={`#/routes/${encodeURIComponent(id)}`}>{id}</a>
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
