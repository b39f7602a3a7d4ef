/**
 * `--core` as a gRPC target. One address is passed as is: a DNS name goes through grpc-js's DNS
 * resolver, which hands every A/AAAA record to the load balancer (a headless Kubernetes service, a
 * compose service with replicas). Several addresses become an `ipv4:`/`ipv6:` target, grpc-js's
 * static list; those schemes take IP literals only, so a list of names is refused with a hint.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { formatHostPort, type HostPort } from '../../common/cli-options.js';

export type CoreTarget =
  | { readonly ok: true; readonly target: string }
  | { readonly ok: false; readonly problem: string };

export function coreTarget(cores: readonly HostPort[]): CoreTarget {
  const [first, ...rest] = cores;
  if (!first) return { ok: false, problem: 'at least one core address is needed' };
  if (rest.length === 0) return { ok: true, target: formatHostPort(first) };
  if (cores.every((core) => isIPv4(core.host)))
    return { ok: true, target: `ipv4:${cores.map(formatHostPort).join(',')}` };
  if (cores.every((core) => isIPv6(core.host)))
    return { ok: true, target: `ipv6:${cores.map(formatHostPort).join(',')}` };
  return {
    ok: false,
    problem:
      'a list of cores takes IP addresses (all IPv4 or all IPv6); to reach cores by name, give one DNS name that resolves to all of them',
  };
}
