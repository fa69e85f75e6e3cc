import { z } from 'zod';

/** Where events are posted: an absolute http(s) URL (a Slack incoming webhook, a chat bridge, a pager). */
export const WebhookUrl = z
  .string()
  .max(2048)
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), 'must be an http:// or https:// URL');

/** A webhook the gateway posts every event to; stored, so it survives restarts. */
export const Webhook = z.object({
  id: z.string(),
  url: WebhookUrl,
  /** `flag`: registered by a gateway's `--webhook`; `api`: by `POST /webhooks`. */
  source: z.enum(['flag', 'api']),
  createdAt: z.string(),
});
export type Webhook = z.infer<typeof Webhook>;

export const WebhookCreate = z.object({ url: WebhookUrl }).strict();

/** One event's delivery to one webhook URL. */
export const Delivery = z.object({
  url: z.string(),
  attempts: z.number().int(),
  deliveredAt: z.string().nullable(),
  lastError: z.string().nullable(),
  /** When the relay tries next (ms since the epoch as an ISO time); null once delivered. */
  nextAttemptAt: z.string().nullable(),
});
export type Delivery = z.infer<typeof Delivery>;
