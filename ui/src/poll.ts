import { useEffect, useRef } from 'preact/hooks';

/** How often the views refresh their numbers. */
export const REFRESH_MS = 3_000;

/**
 * Runs `load` now and again `intervalMs` after each run finishes (never two at once), until the
 * component unmounts or `deps` change. Errors are the caller's to show; the next run retries.
 */
export function usePoll(load: () => Promise<void>, deps: readonly unknown[], intervalMs = REFRESH_MS): void {
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        await latest.current();
      } catch {
        // shown by the view's own error state; polling goes on, which is the retry
      }
      if (!stopped) timer = setTimeout(tick, intervalMs);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);
}
