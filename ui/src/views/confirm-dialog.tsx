import { useEffect, useRef, useState } from 'preact/hooks';

/** A change waiting for its confirmation: what it is, in words, and how to make it. */
export interface PendingChange {
  title: string;
  /** What exactly changes, one line each (e.g. "mode: legacy → canary"). */
  lines: string[];
  confirmLabel: string;
  danger?: boolean;
  run: (reason: string | undefined) => Promise<void>;
}

/**
 * The modal confirmation every change goes through (a native <dialog>: focus stays inside,
 * Escape cancels). It names the change and takes an optional reason for the history.
 */
export function ConfirmDialog({ change, onClose }: { change: PendingChange; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const confirm = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      await change.run(reason.trim() === '' ? undefined : reason.trim());
    } finally {
      setBusy(false);
      onClose();
    }
  };
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" onClose={onClose}>
      <form onSubmit={confirm}>
        <h2 id="confirm-title">{change.title}</h2>
        <ul class="change-lines">
          {change.lines.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
        <label for="confirm-reason">Reason (optional, kept in the history)</label>
        <input id="confirm-reason" type="text" maxLength={1000} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
        <div class="actions">
          <button type="button" onClick={() => ref.current?.close()} disabled={busy}>Cancel</button>
          <button type="submit" class={change.danger ? 'danger' : 'primary'} disabled={busy} autoFocus>
            {change.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
