import { z } from 'zod';
import { Stage } from '../rollout/stage.js';
import type { HistoryAction, Route } from '../routing/schema.js';

/**
 * A notification of a route's move along its lifecycle: written in the transaction of the change
 * (so a change is never without its event, and a failed change has none), relayed to every
 * webhook by the relay (relay.ts). `id` is the Idempotency-Key the receivers see.
 */
export const OutboxEvent = z.object({
  id: z.string().min(1),
  at: z.string(),
  /** `rollout`: a move the rollout controller made; `stage`: any other change of stage. */
  kind: z.enum(['rollout', 'stage']),
  routeId: z.string(),
  pathPrefix: z.string(),
  /** The route's version after the change (for a delete, the version the deletion took). */
  version: z.number().int(),
  actor: z.string(),
  reason: z.string().nullable(),
  fromStage: Stage.nullable(),
  /** Null when the route was deleted: legacy then serves its prefix again. */
  toStage: Stage.nullable(),
  canaryPercent: z.number().int().nullable(),
  /** One line for people (a Slack message), e.g. "Route /orders: rollout moved canary 5% → canary 25% (by rollout): …". */
  text: z.string(),
});
export type OutboxEvent = z.infer<typeof OutboxEvent>;

type Side = Pick<Route, 'id' | 'pathPrefix' | 'stage' | 'canaryPercent' | 'version'>;

/**
 * The event a history row gives, if any: every `rollout` and `stage` change, and any other change
 * (a rollback, a revert, an apply, a delete) that moves the route's stage. Creating a route is not
 * a move. A deleted route counts as back at `legacy` (its prefix falls through to legacy), so only
 * the deletion of a route past legacy is an event.
 */
export function eventOf(
  action: HistoryAction,
  before: Side | null,
  after: Side | null,
  meta: { actor: string; reason?: string | null | undefined },
  stamp: { id: string; at: string; version: number },
): OutboxEvent | undefined {
  if (before === null) return undefined;
  const moved = before.stage !== (after?.stage ?? 'legacy');
  if (action !== 'rollout' && action !== 'stage' && !moved) return undefined;
  const kind = action === 'rollout' ? 'rollout' : 'stage';
  const reason = meta.reason ?? null;
  return {
    id: stamp.id,
    at: stamp.at,
    kind,
    routeId: (after ?? before).id,
    pathPrefix: (after ?? before).pathPrefix,
    version: stamp.version,
    actor: meta.actor,
    reason,
    fromStage: before.stage,
    toStage: after?.stage ?? null,
    canaryPercent: after?.canaryPercent ?? null,
    text: `Route ${(after ?? before).pathPrefix}: ${move(action, before, after)} (by ${meta.actor})${reason === null ? '' : `: ${reason}`}`,
  };
}

const VERBS: Record<HistoryAction, string> = {
  rollout: 'rollout moved',
  stage: 'stage moved',
  rollback: 'rolled back',
  flip: 'flipped',
  update: 'changed',
  create: 'created',
  delete: 'deleted',
};

function move(action: HistoryAction, before: Side, after: Side | null): string {
  return after === null ? `deleted at ${place(before)}; legacy serves its prefix` : `${VERBS[action]} ${place(before)} → ${place(after)}`;
}

/** A stage as people say it: a canary with its share. */
function place(route: Pick<Route, 'stage' | 'canaryPercent'>): string {
  return route.stage === 'canary' ? `canary ${route.canaryPercent}%` : route.stage;
}
