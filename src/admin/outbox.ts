import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { systemClock } from '../clock.js';
import { WebhookCreate } from '../outbox/webhook.js';
import { parseOrThrow } from '../validation.js';
import { MAX_PAGE, nextCursor } from './paging.js';
import type { AdminOptions } from './server.js';

/** Events per page without `limit`: each carries its deliveries, so fewer than a page of routes. */
export const DEFAULT_EVENTS_PAGE = 100;

/** `GET /events`'s query: newest first, `after` the `next` cursor of the page before. */
export const EventsQuery = z
  .object({
    undelivered: z.enum(['true', 'false']).default('false'),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(DEFAULT_EVENTS_PAGE),
    after: z.string().regex(/^[1-9][0-9]{0,15}$/, 'must be the `next` cursor of the page before').optional(),
  })
  .strict();

/**
 * The outbox as the admin API shows it: the webhooks events go to (`--webhook` URLs and those
 * added here, all stored), and the events with each delivery's state, failures included.
 */
export function registerOutbox(app: FastifyInstance, { store, logger, clock }: AdminOptions): void {
  app.get('/webhooks', async () => ({ webhooks: await store.outbox.webhooks() }));

  app.post('/webhooks', async (request, reply) => {
    const { url } = parseOrThrow(WebhookCreate, request.body);
    const webhook = await store.outbox.addWebhook(url, 'api', new Date((clock ?? systemClock).now()).toISOString());
    logger.info({ reqId: request.id, webhook: webhook.id, to: new URL(url).origin }, 'webhook added');
    return reply.code(201).header('location', `/webhooks/${webhook.id}`).send(webhook);
  });

  app.delete('/webhooks/:id', async (request: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const webhook = await store.outbox.removeWebhook(request.params.id);
    logger.info({ reqId: request.id, webhook: webhook.id, to: new URL(webhook.url).origin }, 'webhook removed');
    return reply.code(204).send();
  });

  app.get('/events', async (request) => {
    const query = parseOrThrow(EventsQuery, request.query ?? {}, 'query');
    const page = await store.outbox.events({ undelivered: query.undelivered === 'true', limit: query.limit, before: query.after === undefined ? undefined : Number(query.after) });
    return { events: page.map((p) => p.event), next: nextCursor(page, query.limit, (p) => String(p.seq)) };
  });
}
