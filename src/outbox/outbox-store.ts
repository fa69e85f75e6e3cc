import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { OutboxEvent } from './event.js';
import type { Settlement } from './retry-schedule.js';
import { Delivery, type Webhook } from './webhook.js';
import { isSqliteBusy, withoutWaiting } from '../store/sqlite-no-wait.js';

/** An event as `GET /events` answers it: with its delivery to each webhook URL. */
export const EventView = OutboxEvent.extend({ deliveries: z.array(Delivery) });
export type EventView = z.infer<typeof EventView>;

export interface EventsQuery {
  /** Only events some webhook has not received yet. */
  undelivered: boolean;
  limit: number;
  /** The `seq` of the last event of the page before (newest first): this page is older. */
  before?: number | undefined;
}

/** A delivery the relay claimed: it alone posts it until the claim's lease runs out. */
export interface Claimed {
  event: OutboxEvent;
  url: string;
  attempts: number;
}

/**
 * The outbox and its webhooks, in the route database (tables of migration 8), shared by every
 * gateway on it. The events themselves are written by the route writes, in their transactions
 * (SqliteOutboxStore.record here; postgres-outbox-store.ts's insertEvents).
 */
export interface OutboxStore {
  webhooks(): Promise<Webhook[]>;
  /** Fails with DUPLICATE_WEBHOOK when the URL is already there. */
  addWebhook(url: string, source: Webhook['source'], at: string): Promise<Webhook>;
  /** The `--webhook` URLs, added unless there already. */
  ensureWebhooks(urls: readonly string[], at: string): Promise<void>;
  /** Removes a webhook and the deliveries to it still pending; fails with WEBHOOK_NOT_FOUND. */
  removeWebhook(id: string): Promise<Webhook>;
  /** Newest first, each with its `seq` (the paging cursor). */
  events(query: EventsQuery): Promise<{ seq: number; event: EventView }[]>;
  /** Takes up to `limit` deliveries due at `now` (to a webhook still there) for `owner`, holding them until `until`. */
  claim(now: number, until: number, limit: number, owner: string): Promise<Claimed[]>;
  /** Who holds claims on deliveries not settled yet. */
  claimants(): Promise<string[]>;
  /** Makes `owner`'s claims due at `now` (its process is gone). */
  release(owner: string, now: number): Promise<void>;
  settle(eventId: string, url: string, outcome: Settlement): Promise<void>;
  /** Events some webhook has not received yet. */
  undelivered(): Promise<number>;
}

/** An `outbox_deliveries` row, as both engines store it. */
export interface DeliveryRow {
  event_id: string;
  url: string;
  attempts: number;
  next_attempt_at: number;
  delivered_at: string | null;
  last_error: string | null;
  claimed_by: string | null;
}

export interface WebhookRow {
  id: string;
  url: string;
  source: Webhook['source'];
  created_at: string;
}

/** The SQLite OutboxStore, on the RouteStore's own connection. */
export class SqliteOutboxStore implements OutboxStore {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    this.stmts = {
      insertEvent: db.prepare<[string, string, string, string]>('INSERT INTO outbox_events (id, route_id, at, event) VALUES (?, ?, ?, ?)'),
      // One delivery per webhook there when the change commits: a webhook added later gets only later events.
      insertDeliveries: db.prepare<[string, number]>('INSERT INTO outbox_deliveries (event_id, url, next_attempt_at) SELECT ?, url, ? FROM webhooks'),
      webhooks: db.prepare<[], WebhookRow>('SELECT * FROM webhooks ORDER BY created_at, url'),
      webhook: db.prepare<[string], WebhookRow>('SELECT * FROM webhooks WHERE id = ?'),
      webhookByUrl: db.prepare<[string], WebhookRow>('SELECT * FROM webhooks WHERE url = ?'),
      addWebhook: db.prepare<[string, string, string, string]>('INSERT INTO webhooks (id, url, source, created_at) VALUES (?, ?, ?, ?)'),
      removeWebhook: db.prepare<[string]>('DELETE FROM webhooks WHERE id = ?'),
      dropPending: db.prepare<[string]>('DELETE FROM outbox_deliveries WHERE url = ? AND delivered_at IS NULL'),
      events: db.prepare<{ before: number | null; undelivered: number; limit: number }, { seq: number; event: string }>(
        `SELECT seq, event FROM outbox_events e
         WHERE (@before IS NULL OR seq < @before)
           AND (@undelivered = 0 OR EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.event_id = e.id AND d.delivered_at IS NULL))
         ORDER BY seq DESC LIMIT @limit`,
      ),
      deliveriesOf: db.prepare<[string], DeliveryRow>('SELECT * FROM outbox_deliveries WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY url'),
      claim: db.prepare<{ now: number; until: number; limit: number; owner: string }, Pick<DeliveryRow, 'event_id' | 'url' | 'attempts'>>(
        `UPDATE outbox_deliveries SET next_attempt_at = @until, claimed_by = @owner
         WHERE rowid IN (SELECT rowid FROM outbox_deliveries
                         WHERE delivered_at IS NULL AND next_attempt_at <= @now AND url IN (SELECT url FROM webhooks)
                         ORDER BY next_attempt_at LIMIT @limit)
         RETURNING event_id, url, attempts`,
      ),
      eventsByIds: db.prepare<[string], { event: string }>('SELECT event FROM outbox_events WHERE id IN (SELECT value FROM json_each(?))'),
      delivered: db.prepare<{ id: string; url: string; attempts: number; at: string }>(
        'UPDATE outbox_deliveries SET attempts = @attempts, delivered_at = @at, last_error = NULL, claimed_by = NULL WHERE event_id = @id AND url = @url',
      ),
      failed: db.prepare<{ id: string; url: string; attempts: number; error: string; next: number }>(
        'UPDATE outbox_deliveries SET attempts = @attempts, last_error = @error, next_attempt_at = @next, claimed_by = NULL WHERE event_id = @id AND url = @url AND delivered_at IS NULL',
      ),
      claimants: db.prepare<[], { owner: string }>('SELECT DISTINCT claimed_by AS owner FROM outbox_deliveries WHERE claimed_by IS NOT NULL AND delivered_at IS NULL'),
      release: db.prepare<[number, string]>('UPDATE outbox_deliveries SET next_attempt_at = ?, claimed_by = NULL WHERE claimed_by = ? AND delivered_at IS NULL'),
      undelivered: db.prepare<[], { n: number }>('SELECT COUNT(DISTINCT event_id) AS n FROM outbox_deliveries WHERE delivered_at IS NULL'),
    };
  }

  /** Writes an event and its deliveries, due at `now`; called inside the route change's transaction. */
  record(event: OutboxEvent, now: number): void {
    this.stmts.insertEvent.run(event.id, event.routeId, event.at, JSON.stringify(event));
    this.stmts.insertDeliveries.run(event.id, now);
  }

  async webhooks(): Promise<Webhook[]> {
    return this.stmts.webhooks.all().map(toWebhook);
  }

  async addWebhook(url: string, source: Webhook['source'], at: string): Promise<Webhook> {
    return this.db
      .transaction(() => {
        if (this.stmts.webhookByUrl.get(url)) throw duplicateWebhook(url);
        const id = randomUUID();
        this.stmts.addWebhook.run(id, url, source, at);
        return toWebhook(this.stmts.webhook.get(id)!);
      })
      .immediate();
  }

  async ensureWebhooks(urls: readonly string[], at: string): Promise<void> {
    this.db
      .transaction(() => {
        for (const url of urls) if (!this.stmts.webhookByUrl.get(url)) this.stmts.addWebhook.run(randomUUID(), url, 'flag', at);
      })
      .immediate();
  }

  async removeWebhook(id: string): Promise<Webhook> {
    return this.db
      .transaction(() => {
        const row = this.stmts.webhook.get(id);
        if (row === undefined) throw webhookNotFound(id);
        this.stmts.removeWebhook.run(id);
        this.stmts.dropPending.run(row.url);
        return toWebhook(row);
      })
      .immediate();
  }

  async events(query: EventsQuery): Promise<{ seq: number; event: EventView }[]> {
    const rows = this.stmts.events.all({ before: query.before ?? null, undelivered: query.undelivered ? 1 : 0, limit: query.limit });
    const events = rows.map((r) => ({ seq: r.seq, event: JSON.parse(r.event) as OutboxEvent }));
    return withDeliveries(events, this.stmts.deliveriesOf.all(JSON.stringify(events.map((e) => e.event.id))));
  }

  // The relay runs on the serving event loop: it never waits for another writer's lock (an apply
  // can hold it for seconds). A busy database has nothing to claim this time; the next pass retries.
  async claim(now: number, until: number, limit: number, owner: string): Promise<Claimed[]> {
    return whenNotBusy(() => this.claimNow(now, until, limit, owner), []);
  }

  private claimNow(now: number, until: number, limit: number, owner: string): Claimed[] {
    return withoutWaiting(this.db, () =>
      this.db
        .transaction(() => {
          const rows = this.stmts.claim.all({ now, until, limit, owner });
          const events = new Map(this.stmts.eventsByIds.all(JSON.stringify(rows.map((r) => r.event_id))).map((r) => {
            const event = JSON.parse(r.event) as OutboxEvent;
            return [event.id, event] as const;
          }));
          return rows.map((r) => ({ event: events.get(r.event_id)!, url: r.url, attempts: r.attempts }));
        })
        .immediate(),
    );
  }

  async settle(eventId: string, url: string, outcome: Settlement): Promise<void> {
    withoutWaiting(this.db, () => {
      if (outcome.delivered) this.stmts.delivered.run({ id: eventId, url, attempts: outcome.attempts, at: new Date(outcome.at).toISOString() });
      else this.stmts.failed.run({ id: eventId, url, attempts: outcome.attempts, error: outcome.error, next: outcome.nextAttemptAt });
    });
  }

  async claimants(): Promise<string[]> {
    return this.stmts.claimants.all().map((r) => r.owner);
  }

  async release(owner: string, now: number): Promise<void> {
    withoutWaiting(this.db, () => this.stmts.release.run(now, owner));
  }

  async undelivered(): Promise<number> {
    return this.stmts.undelivered.get()!.n;
  }
}

function whenNotBusy<T>(fn: () => T, otherwise: T): T {
  try {
    return fn();
  } catch (err) {
    if (isSqliteBusy(err)) return otherwise;
    throw err;
  }
}

/** Events with their deliveries, as `GET /events` lists them. */
export function withDeliveries(events: { seq: number; event: OutboxEvent }[], rows: readonly DeliveryRow[]): { seq: number; event: EventView }[] {
  const byEvent = new Map<string, Delivery[]>();
  for (const row of rows) byEvent.set(row.event_id, [...(byEvent.get(row.event_id) ?? []), toDelivery(row)]);
  return events.map(({ seq, event }) => ({ seq, event: { ...event, deliveries: byEvent.get(event.id) ?? [] } }));
}

function toDelivery(row: DeliveryRow): Delivery {
  const delivered = row.delivered_at !== null;
  return {
    url: row.url,
    attempts: Number(row.attempts),
    deliveredAt: row.delivered_at,
    lastError: row.last_error,
    nextAttemptAt: delivered ? null : new Date(Number(row.next_attempt_at)).toISOString(),
  };
}

export function toWebhook(row: WebhookRow): Webhook {
  return { id: row.id, url: row.url, source: row.source, createdAt: row.created_at };
}

export function duplicateWebhook(url: string): GatewayError {
  return new GatewayError('DUPLICATE_WEBHOOK', `a webhook for ${url} already exists`);
}

export function webhookNotFound(id: string): GatewayError {
  return new GatewayError('WEBHOOK_NOT_FOUND', `no webhook "${id}"`);
}
