/**
 * `GET /stock/:sku`, which both demo backends answer in the same shape: the shadow-mode
 * walk-through. Modern's port has one bug, so `strangler shadow stock` has something to show:
 * it forgets to subtract reserved units from `available` (until `POST /__stock-fix` on modern
 * "deploys" the fix, for the rollout walk-through).
 */
import { sendJson, sendNotFound, type Backend, type Handler } from './http-helpers.js';

export interface StockItem {
  sku: string;
  title: string;
  onHand: number;
  reserved: number;
}

const STOCK: readonly StockItem[] = [
  { sku: 'TEA-001', title: 'Green tea, 100 g', onHand: 40, reserved: 0 },
  { sku: 'MUG-002', title: 'Enamel mug', onHand: 12, reserved: 3 },
  { sku: 'KTL-003', title: 'Kettle', onHand: 0, reserved: 0 },
];

/** Legacy's rule (the right one): what can still be sold. */
export const legacyAvailable = (item: StockItem): number => item.onHand - item.reserved;
/** Modern's port of it, with the bug shadow mode finds. */
export const modernAvailable = (item: StockItem): number => item.onHand;

export function stockHandler(backend: Backend, available: (item: StockItem) => number): Handler {
  return (ctx) => {
    const item = STOCK.find((s) => s.sku === ctx.params.sku);
    if (item === undefined) return sendNotFound(ctx.res, backend, ctx.url);
    sendJson(ctx.res, 200, { ...item, available: available(item) });
  };
}
