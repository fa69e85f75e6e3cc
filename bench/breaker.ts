/**
 * The circuit breaker and retries are on for every gateway configuration: they are a route's
 * defaults (breaker: 50% failures over the last 20 calls, at least 10; one retry for transient
 * failures). The end-to-end runs therefore measure them; micro.ts times the breaker's bookkeeping.
 */
export const BREAKER_STATUS =
  'breaker + retries: on in every gateway configuration (route defaults: breaker 50% of the last 20 calls, 1 retry)';
