/**
 * A request rate per host: requests are spaced 1/rate seconds apart, so a big run stays under
 * a server's known limit (Quay's nginx: 5 requests/s per client on /api/) instead of tripping it.
 * One limiter is shared by every client of a ClientPool, so that the REST client and the /v2/
 * client of one Quay host keep to one limit between them, not one each.
 */
import { setTimeout as sleep } from "node:timers/promises";

export class RateLimiter {
  private readonly intervalMs: number;
  /** When each host ("quay.io", "127.0.0.1:8080") may next be sent to. */
  private readonly next = new Map<string, number>();

  constructor(perSecond: number) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError(`rate must be a positive number, got ${perSecond}`);
    this.intervalMs = 1000 / perSecond;
  }

  /** Wait for this host's next slot (taken at once: concurrent callers queue one interval apart). */
  async acquire(host: string, signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    const slot = Math.max(now, this.next.get(host) ?? now);
    this.next.set(host, slot + this.intervalMs);
    if (slot > now) await sleep(slot - now, undefined, signal ? { signal } : undefined);
  }
}
