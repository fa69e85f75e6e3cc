import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, subscribe, token } from './api.js';
import { Backends } from './views/backends.js';
import { Overview } from './views/overview.js';
import { RoutePage } from './views/route-page.js';
import { SignIn } from './views/sign-in.js';

type Page = { view: 'overview' } | { view: 'backends' } | { view: 'route'; id: string };

/** `#/`, `#/backends`, `#/routes/<id>`: the hash keeps every view on the one static page. */
function parseHash(hash: string): Page {
  const route = /^#\/routes\/([^/]+)$/.exec(hash);
  if (route) return { view: 'route', id: decodeURIComponent(route[1]!) };
  if (hash === '#/backends') return { view: 'backends' };
  return { view: 'overview' };
}

function useHashPage(): Page {
  const [page, setPage] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setPage(parseHash(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return page;
}

type Auth = 'checking' | 'needed' | 'ok';

/** Whether the API wants a token (and the stored one still works): one cheap read decides. */
function useAuth(): [Auth, (auth: Auth) => void] {
  const [auth, setAuth] = useState<Auth>('checking');
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () =>
      get('status?limit=1').then(
        () => setAuth('ok'),
        (err: unknown) => {
          if (err instanceof ApiError && err.status === 401) setAuth('needed');
          else timer = setTimeout(check, 3_000); // unreachable: the banner says so; try again
        },
      );
    void check();
    const unsubscribe = subscribe((event) => {
      if (event === 'unauthorized') {
        token.clear();
        setAuth('needed');
      }
    });
    return () => {
      clearTimeout(timer);
      unsubscribe();
    };
  }, []);
  return [auth, setAuth];
}

function useReachable(): boolean {
  const [reachable, setReachable] = useState(true);
  useEffect(() => subscribe((event) => event !== 'unauthorized' && setReachable(event === 'reachable')), []);
  return reachable;
}

function App() {
  const page = useHashPage();
  const [auth, setAuth] = useAuth();
  const reachable = useReachable();
  const signOut = () => {
    token.clear();
    setAuth('needed');
  };
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">strangler-gateway</a>
        {auth === 'ok' && (
          <nav aria-label="Views">
            <a href="#/" aria-current={page.view === 'overview' ? 'page' : undefined}>Overview</a>
            <a href="#/backends" aria-current={page.view === 'backends' ? 'page' : undefined}>Backends</a>
          </nav>
        )}
        {auth === 'ok' && token.get() !== null && (
          <button type="button" class="quiet" onClick={signOut}>Sign out</button>
        )}
      </header>
      {!reachable && (
        <div class="banner" role="alert">
          <strong>The gateway's admin API is unreachable.</strong> Retrying every few seconds…{' '}
          <button type="button" onClick={() => void get('healthz').catch(() => undefined)}>Retry now</button>
        </div>
      )}
      <main id="main">
        {auth === 'checking' && <p class="loading">Connecting to the admin API…</p>}
        {auth === 'needed' && <SignIn onSignedIn={() => setAuth('ok')} />}
        {auth === 'ok' && page.view === 'overview' && <Overview />}
        {auth === 'ok' && page.view === 'backends' && <Backends />}
        {auth === 'ok' && page.view === 'route' && <RoutePage key={page.id} id={page.id} />}
      </main>
    </>
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // the "Loading" placeholder of index.html
render(<App />, root);
