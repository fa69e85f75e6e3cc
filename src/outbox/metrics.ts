import { Counter, Gauge, type Registry } from 'prom-client';
import type { OutboxStore } from './outbox-store.js';

/**
 * `strangler_outbox_undelivered` (read from the store at scrape time, so it counts every
 * gateway's events) and `strangler_webhook_deliveries_total{result}` (this gateway's attempts).
 * Returns the counter's recorder for the relay.
 */
export function registerOutboxMetrics(registry: Registry, outbox: Pick<OutboxStore, 'undelivered'>): (result: 'delivered' | 'failed') => void {
  new Gauge({
    name: 'strangler_outbox_undelivered',
    help: 'Lifecycle events some webhook has not received yet (GET /events?undelivered=true lists them)',
    registers: [registry],
    async collect() {
      this.set(await outbox.undelivered());
    },
  });
  const deliveries = new Counter({
    name: 'strangler_webhook_deliveries_total',
    help: "This gateway's webhook posts, by result (delivered: a 2xx; failed: anything else, retried later)",
    labelNames: ['result'],
    registers: [registry],
  });
  return (result) => deliveries.inc({ result });
}
