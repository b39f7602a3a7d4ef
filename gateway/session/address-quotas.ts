/**
 * Shares counted per client address across all its sockets (v2's server-streaming calls): one
 * address holding many sockets still gets one share, so it cannot starve the others.
 */
import type { Quota } from './ports.js';

export interface AddressQuotas {
  /** The share of `ip`, as one connection takes and gives it back. */
  forAddress(ip: string): Quota;
  /** Units `ip` holds now. */
  held(ip: string): number;
}

export function createAddressQuotas(limit: number): AddressQuotas {
  const held = new Map<string, number>();
  return {
    forAddress: (ip) => ({
      limit,
      take() {
        const now = held.get(ip) ?? 0;
        if (now >= limit) return false;
        held.set(ip, now + 1);
        return true;
      },
      give() {
        const left = (held.get(ip) ?? 1) - 1;
        if (left > 0) held.set(ip, left);
        else held.delete(ip);
      },
    }),
    held: (ip) => held.get(ip) ?? 0,
  };
}
