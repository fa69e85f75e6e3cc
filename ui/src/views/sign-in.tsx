import { useState } from 'preact/hooks';
import { ApiError, call, describe, token } from '../api.js';

/**
 * Asks for the admin token once per tab. It is tried on a read first and kept in sessionStorage
 * only when the gateway accepts it; it is sent as the Authorization header, never as a cookie.
 */
export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await call('GET', 'status?limit=1', { withToken: value });
      token.set(value);
      onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'The gateway refused this token.' : describe(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in</h1>
      <p>This gateway's admin API needs its token (<code>--admin-token</code>). It is kept for this tab only.</p>
      <form onSubmit={submit}>
        <label for="token">Admin token</label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          required
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy || value === ''}>Sign in</button>
      </form>
      {error !== null && <p class="error" role="alert">{error}</p>}
    </section>
  );
}
