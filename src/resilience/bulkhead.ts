/**
 * A backend's compartment: at most `max` requests in flight at once, so a slow backend holds
 * a bounded share of the gateway. Past the bound a request is turned away at once, never queued.
 */
export class Bulkhead {
  private active = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`bulkhead max must be an integer >= 1, got ${max}`);
  }

  get inFlight(): number {
    return this.active;
  }

  tryEnter(): boolean {
    if (this.active >= this.max) return false;
    this.active++;
    return true;
  }

  leave(): void {
    if (this.active > 0) this.active--;
  }
}
