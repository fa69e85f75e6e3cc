/** What the rollout tests share: a loop of clients, and waiting for a rollout to get somewhere. */

/** `clients` clients in a loop, each request to the next of `urls`, without a cookie (a fresh canary bucket each time). */
export function startLoad(urls: readonly string[], clients = 4): { stop: () => Promise<void> } {
  let running = true;
  const client = async () => {
    while (running) for (const url of urls) await fetch(url).then((r) => r.arrayBuffer()).catch(() => undefined);
  };
  const loops = Array.from({ length: clients }, client);
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Reads until `done` holds of the value (every 10 ms); throws with the last value after `ms`. */
export async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 30_000): Promise<T> {
  for (const end = Date.now() + ms; ; ) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > end) throw new Error(`gave up waiting: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
