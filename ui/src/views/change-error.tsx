import { ApiError, describe } from '../api.js';

/**
 * A failed change, said plainly. A version conflict means someone else changed the route since
 * this page loaded it: nothing was written, and a reload shows their change.
 */
export function ChangeError({ error, onReload }: { error: unknown; onReload: () => void }) {
  const conflict = error instanceof ApiError && error.code === 'VERSION_CONFLICT';
  return (
    <div class="notice error" role="alert">
      {conflict ? (
        <p>
          <strong>Someone else changed this route</strong> since this page loaded it, so your change was not made. Reload to
          see the current version, then make your change again.
        </p>
      ) : (
        <p>The change failed: {describe(error)}</p>
      )}
      <button type="button" onClick={onReload}>Reload the route</button>
    </div>
  );
}
