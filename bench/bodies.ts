/** The backend's answers (backend.ts), shared with shadow mode's modern stand-in (modern.ts) so its answers match legacy's. */

export const SMALL_BODY = Buffer.from(
  JSON.stringify({ id: 1, name: 'widget', price: 9.99, currency: 'EUR', tags: ['bench', 'small'], inStock: true }),
);
export const SMALL_TYPE = 'application/json';
export const ONE_MB_BODY = Buffer.alloc(1024 * 1024, 0x78);
export const ONE_MB_TYPE = 'application/octet-stream';
