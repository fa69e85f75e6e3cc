import { useState } from 'preact/hooks';
import type { MigrationStatus, RouteStatus } from '../../../src/observe/status.js';
import { describe, get } from '../api.js';
import { cursorBefore, matches, pageQuery, runs, type IndexEntry } from '../paging.js';
import { usePoll } from '../poll.js';
import { invalidateIndex, routeIndex } from '../route-index.js';
import { addSample, type ShareSample } from '../share-history.js';
import { Glance } from './glance.js';
import { RoutesTable } from './routes-table.js';

const PAGE_SIZE = 25;

/** Modern's share per refresh, kept while the tab is open (across views). */
let shareSamples: ShareSample[] = [];

interface Loaded {
  status: MigrationStatus;
  rows: IndexEntry[];
  numbers: Map<string, RouteStatus>;
  matched: number;
  complete: boolean;
}

/**
 * Every route with its two sides next to each other, searchable and paged, and the migration at
 * a glance. The list comes from `GET /routes`; each visible row's numbers from `GET /status`
 * (`?after=` the row before it, so a page costs one read per run of consecutive rows).
 */
export function Overview() {
  const [query, setQuery] = useState('');
  const [page, setPage] = useState(0);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);

  usePoll(
    async () => {
      try {
        const next = await load(query, page);
        shareSamples = addSample(shareSamples, { at: Date.now(), share: next.status.traffic.modernShare });
        setLoaded(next);
        setError(null);
      } catch (err) {
        setError(describe(err));
        throw err;
      }
    },
    [query, page],
  );

  const pages = loaded === null ? 1 : Math.max(1, Math.ceil(loaded.matched / PAGE_SIZE));
  return (
    <>
      <h1>Migration overview</h1>
      {error !== null && <p class="error" role="alert">Could not refresh: {error}</p>}
      {loaded !== null && <Glance status={loaded.status} samples={shareSamples} />}
      <section aria-labelledby="routes-title">
        <div class="table-head">
          <h2 id="routes-title">Routes</h2>
          <label class="search">
            Search by id or prefix
            <input
              type="search"
              value={query}
              onInput={(e) => {
                setQuery((e.target as HTMLInputElement).value);
                setPage(0);
              }}
            />
          </label>
        </div>
        {loaded !== null && <RoutesTable rows={loaded.rows} numbers={loaded.numbers} />}
        {loaded !== null && !loaded.complete && (
          <p class="note">The route table is very large: search covers its first 100,000 routes.</p>
        )}
        <nav class="pager" aria-label="Route pages">
          <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>Previous</button>
          <span class="num">
            Page {Math.min(page + 1, pages)} of {pages} · {loaded?.matched ?? 0} routes
          </span>
          <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>Next</button>
        </nav>
      </section>
    </>
  );
}

async function load(query: string, page: number): Promise<Loaded> {
  const { entries, complete } = await routeIndex();
  const positions = entries.flatMap((entry, i) => (matches(entry, query) ? [i] : []));
  const visible = positions.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
  const reads = runs(visible).map((run) => get<MigrationStatus>(pageQuery('status', run.length, cursorBefore(entries, run.start))));
  const answers = await Promise.all(reads.length > 0 ? reads : [get<MigrationStatus>('status?limit=1')]);
  // A route added or removed elsewhere: read the list again on the next refresh.
  if (complete && answers[0]!.routes.total !== entries.length) invalidateIndex();
  const numbers = new Map(answers.flatMap((a) => a.perRoute.map((r) => [r.id, r] as const)));
  return { status: answers[0]!, rows: visible.map((i) => entries[i]!), numbers, matched: positions.length, complete };
}
