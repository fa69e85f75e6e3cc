import pg from 'pg';
import type { Logger } from 'pino';
import type { Random } from '../clock.js';
import { fullJitterDelay } from '../resilience/backoff.js';

/** The channel every gateway on the database LISTENs on; a payload is only the feed position. */
export const FEED_CHANNEL = 'strangler_feed';

/**
 * Reconnection backoff: the first attempt within 100 ms (a restart or a killed connection is
 * usually over at once), then doubling up to 5 s, each delay drawn at random below its bound
 * (full jitter) so a fleet of gateways does not reconnect in waves.
 */
export const RECONNECT = Object.freeze({ baseMs: 100, capMs: 5_000 });

export interface ListenerEvents {
  /** A NOTIFY arrived, or the connection came back (changes may have been missed meanwhile). */
  changed(): void;
  /** The connection is up (true) or lost (false, with why). */
  connected(up: boolean, reason?: string): void;
}

/**
 * One dedicated connection that LISTENs for feed notifications, reconnecting by itself with
 * backoff. A notification only says "look at the feed": a lost one (a dropped connection) is
 * covered by the catch-up on reconnection and by the live table's periodic poll.
 */
export class FeedListener {
  private client: pg.Client | undefined;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly events: ListenerEvents,
    private readonly random: Random,
    private readonly logger: Logger,
  ) {}

  /** Connects for the first time; throws if PostgreSQL cannot be reached. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Drops the connection and reconnects (after a failed query elsewhere hinted the database went away). */
  recheck(): void {
    if (this.client === undefined || this.stopped) return;
    this.lost(new Error('a query failed on a dropped connection'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('error', (err) => this.lost(err, client));
    client.on('end', () => this.lost(new Error('the connection ended'), client));
    client.on('notification', (message) => {
      if (message.channel === FEED_CHANNEL) this.events.changed();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${FEED_CHANNEL}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) return void (await client.end().catch(() => undefined));
    this.client = client;
    this.attempt = 0;
    this.events.connected(true);
  }

  private lost(err: Error, which: pg.Client | undefined = this.client): void {
    if (which !== this.client || this.client === undefined) return;
    const client = this.client;
    this.client = undefined;
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    if (this.stopped) return;
    this.logger.warn({ err: err.message }, 'lost the PostgreSQL connection: serving the last route table, reconnecting');
    this.events.connected(false, err.message);
    this.schedule();
  }

  private schedule(): void {
    const delay = fullJitterDelay(this.attempt, RECONNECT.baseMs, RECONNECT.capMs, this.random);
    this.attempt++;
    this.timer = setTimeout(() => {
      this.connect().then(
        () => {
          this.logger.info('reconnected to PostgreSQL: catching up from the change feed');
          this.events.changed();
        },
        (err: Error) => {
          this.logger.debug({ err: err.message, attempt: this.attempt }, 'reconnecting to PostgreSQL failed');
          if (!this.stopped) this.schedule();
        },
      );
    }, delay);
    this.timer.unref();
  }
}
