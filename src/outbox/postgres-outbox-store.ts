import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { OutboxEvent } from './event.js';
import {
  duplicateWebhook,
  toWebhook,
  webhookNotFound,
  withDeliveries,
  type Claimed,
  type DeliveryRow,
  type EventsQuery,
  type EventView,
  type OutboxStore,
  type WebhookRow,
} from './outbox-store.js';
import type { Settlement } from './retry-schedule.js';
import type { Webhook } from './webhook.js';

/**
 * Writes events and their deliveries (one per webhook there now, due at `now`) on the route
 * change's transaction: in bulk, so an apply moving many stages costs two statements.
 */
export async function insertEvents(db: pg.Pool | pg.ClientBase, events: readonly OutboxEvent[], now: number): Promise<void> {
  if (events.length === 0) return;
  await db.query('INSERT INTO outbox_events (id, route_id, at, event) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])', [
    events.map((e) => e.id),
    events.map((e) => e.routeId),
    events.map((e) => e.at),
    events.map((e) => JSON.stringify(e)),
  ]);
  await db.query('INSERT INTO outbox_deliveries (event_id, url, next_attempt_at) SELECT e.id, w.url, $2 FROM unnest($1::text[]) AS e(id) CROSS JOIN webhooks AS w', [
    events.map((e) => e.id),
    now,
  ]);
}

/**
 * The PostgreSQL OutboxStore, on the route store's pool. A claim takes due rows with
 * FOR UPDATE SKIP LOCKED and moves their next attempt past the lease in the same statement, so
 * gateways claiming at once never take the same delivery. It never takes the route write lock.
 */
export class PostgresOutboxStore implements OutboxStore {
  constructor(private readonly pool: pg.Pool) {}

  async webhooks(): Promise<Webhook[]> {
    return (await this.pool.query<WebhookRow>('SELECT * FROM webhooks ORDER BY created_at, url')).rows.map(toWebhook);
  }

  async addWebhook(url: string, source: Webhook['source'], at: string): Promise<Webhook> {
    const { rows } = await this.pool.query<WebhookRow>(
      'INSERT INTO webhooks (id, url, source, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (url) DO NOTHING RETURNING *',
      [randomUUID(), url, source, at],
    );
    if (rows[0] === undefined) throw duplicateWebhook(url);
    return toWebhook(rows[0]);
  }

  async ensureWebhooks(urls: readonly string[], at: string): Promise<void> {
    if (urls.length === 0) return;
    await this.pool.query(
      `INSERT INTO webhooks (id, url, source, created_at) SELECT u.id, u.url, 'flag', $3 FROM unnest($1::text[], $2::text[]) AS u(id, url) ON CONFLICT (url) DO NOTHING`,
      [urls.map(() => randomUUID()), urls, at],
    );
  }

  async removeWebhook(id: string): Promise<Webhook> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<WebhookRow>('DELETE FROM webhooks WHERE id = $1 RETURNING *', [id]);
      if (rows[0] !== undefined) await client.query('DELETE FROM outbox_deliveries WHERE url = $1 AND delivered_at IS NULL', [rows[0].url]);
      await client.query('COMMIT');
      if (rows[0] === undefined) throw webhookNotFound(id);
      return toWebhook(rows[0]);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async events(query: EventsQuery): Promise<{ seq: number; event: EventView }[]> {
    const { rows } = await this.pool.query<{ seq: number; event: string }>(
      `SELECT seq, event FROM outbox_events e
       WHERE ($1::bigint IS NULL OR seq < $1)
         AND (NOT $2 OR EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.event_id = e.id AND d.delivered_at IS NULL))
       ORDER BY seq DESC LIMIT $3`,
      [query.before ?? null, query.undelivered, query.limit],
    );
    const events = rows.map((r) => ({ seq: Number(r.seq), event: JSON.parse(r.event) as OutboxEvent }));
    const deliveries = await this.pool.query<DeliveryRow>('SELECT * FROM outbox_deliveries WHERE event_id = ANY($1::text[]) ORDER BY url', [events.map((e) => e.event.id)]);
    return withDeliveries(events, deliveries.rows);
  }

  async claim(now: number, until: number, limit: number, owner: string): Promise<Claimed[]> {
    const { rows } = await this.pool.query<{ event: string; url: string; attempts: number }>(
      `WITH due AS (
         SELECT event_id, url FROM outbox_deliveries
         WHERE delivered_at IS NULL AND next_attempt_at <= $1 AND url IN (SELECT url FROM webhooks)
         ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE outbox_deliveries AS d SET next_attempt_at = $2, claimed_by = $4 FROM due
         WHERE d.event_id = due.event_id AND d.url = due.url
         RETURNING d.event_id, d.url, d.attempts
       )
       SELECT e.event, c.url, c.attempts FROM claimed c JOIN outbox_events e ON e.id = c.event_id`,
      [now, until, limit, owner],
    );
    return rows.map((r) => ({ event: JSON.parse(r.event) as OutboxEvent, url: r.url, attempts: Number(r.attempts) }));
  }

  async settle(eventId: string, url: string, outcome: Settlement): Promise<void> {
    if (outcome.delivered) {
      await this.pool.query('UPDATE outbox_deliveries SET attempts = $3, delivered_at = $4, last_error = NULL, claimed_by = NULL WHERE event_id = $1 AND url = $2', [
        eventId,
        url,
        outcome.attempts,
        new Date(outcome.at).toISOString(),
      ]);
    } else {
      await this.pool.query('UPDATE outbox_deliveries SET attempts = $3, last_error = $4, next_attempt_at = $5, claimed_by = NULL WHERE event_id = $1 AND url = $2 AND delivered_at IS NULL', [
        eventId,
        url,
        outcome.attempts,
        outcome.error,
        outcome.nextAttemptAt,
      ]);
    }
  }

  async claimants(): Promise<string[]> {
    const { rows } = await this.pool.query<{ owner: string }>('SELECT DISTINCT claimed_by AS owner FROM outbox_deliveries WHERE claimed_by IS NOT NULL AND delivered_at IS NULL');
    return rows.map((r) => r.owner);
  }

  async release(owner: string, now: number): Promise<void> {
    await this.pool.query('UPDATE outbox_deliveries SET next_attempt_at = $1, claimed_by = NULL WHERE claimed_by = $2 AND delivered_at IS NULL', [now, owner]);
  }

  async undelivered(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>('SELECT COUNT(DISTINCT event_id)::int AS n FROM outbox_deliveries WHERE delivered_at IS NULL');
    return rows[0]!.n;
  }
}
