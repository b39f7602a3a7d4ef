/**
 * Why no core is serving, for `/readyz` and the gateway's log: each core of the target asked
 * directly, on a connection of its own (kept, so an answer takes milliseconds: HAProxy's check
 * times out at its interval, 200 ms in the tests), for its health ("") and its note store's
 * (NOTE_STORE_HEALTH_NAME). The balancing channels only know "not ready"; grpc-js words it after
 * one subchannel ("Picked subchannel 127.0.0.1:5001 is unhealthy") even when every core is down for
 * one shared reason. Asked only while no core serves, at most once per `cacheMs` however many
 * callers ask (a burst of failing calls shares one round of checks).
 */
import * as grpc from '@grpc/grpc-js';
import { NOTE_STORE_HEALTH_NAME } from '../../proto/index.js';
import { HealthClient, type ServingStatus } from './health-client.js';

/** What one core said. */
export type CoreCondition =
  | { readonly kind: 'serving' }
  | { readonly kind: 'note_store_down' }
  /** NOT_SERVING with its store up: draining, or another cause of its own. */
  | { readonly kind: 'not_serving' }
  | { readonly kind: 'unreachable'; readonly detail: string };

export interface CoreReport {
  /** As in `--core`. */
  readonly address: string;
  readonly condition: CoreCondition;
}

/** `/readyz`'s reasons when no core serves (the wire words: docs/operations.md). */
export type NoCoreReason = 'core_unavailable' | 'note_store_down' | 'core_not_serving';

/**
 * The one reason for the whole gateway: the store when every core reached has its store down,
 * `core_not_serving` when some core answers NOT_SERVING for another cause, `core_unavailable` when
 * none could be reached at all.
 */
export function noCoreReason(cores: readonly CoreReport[]): NoCoreReason {
  const reached = cores.filter((core) => core.condition.kind !== 'unreachable');
  if (reached.length === 0) return 'core_unavailable';
  if (reached.every((core) => core.condition.kind === 'note_store_down')) return 'note_store_down';
  return 'core_not_serving';
}

const CONDITION_WORDS: Record<CoreCondition['kind'], string> = {
  serving: 'serving',
  note_store_down: 'not serving: its note store is down',
  not_serving: 'not serving (draining, or not started)',
  unreachable: 'unreachable',
};

/** One sentence for the log: "no core is serving: 127.0.0.1:5001 not serving: its note store is down; …". */
export function describeCores(cores: readonly CoreReport[]): string {
  const each = cores.map(({ address, condition }) =>
    condition.kind === 'unreachable'
      ? `${address} unreachable (${condition.detail})`
      : `${address} ${CONDITION_WORDS[condition.kind]}`,
  );
  return `no core is serving: ${each.join('; ')}`;
}

/**
 * The cores of a target built by core-target.ts: `ipv4:a:p,b:p` → each address (as in `--core`)
 * with a target of its own (`ipv4:a:p`); a name → itself.
 */
export function targetAddresses(target: string): { address: string; target: string }[] {
  const list = /^(ipv4|ipv6):(.*)$/.exec(target);
  if (!list) return [{ address: target, target }];
  return (list[2] as string).split(',').map((address) => ({ address, target: `${list[1]}:${address}` }));
}

export interface CoreDiagnosis {
  /** Every core's condition, asked within `timeoutMs` (cached for `cacheMs`). */
  diagnose(timeoutMs: number): Promise<readonly CoreReport[]>;
  close(): void;
}

function check(client: HealthClient, service: string, deadline: number): Promise<ServingStatus> {
  return new Promise((resolve, reject) => {
    client.Check({ service }, { deadline }, (error, reply) =>
      error ? reject(error) : resolve(reply?.status ?? 'UNKNOWN'),
    );
  });
}

async function diagnoseOne(address: string, client: HealthClient, timeoutMs: number): Promise<CoreReport> {
  const deadline = Date.now() + timeoutMs;
  try {
    const [core, store] = await Promise.all([
      check(client, '', deadline),
      // A core without the name (an older one) answers NOT_FOUND: the store's state is unknown then.
      check(client, NOTE_STORE_HEALTH_NAME, deadline).catch((error: grpc.ServiceError) =>
        error.code === grpc.status.NOT_FOUND ? 'SERVICE_UNKNOWN' : Promise.reject(error),
      ),
    ]);
    if (core === 'SERVING') return { address, condition: { kind: 'serving' } };
    return { address, condition: { kind: store === 'NOT_SERVING' ? 'note_store_down' : 'not_serving' } };
  } catch (error) {
    const { code, details } = error as grpc.ServiceError;
    return {
      address,
      condition: { kind: 'unreachable', detail: `${grpc.status[code] ?? code}: ${details}` },
    };
  }
}

export function createCoreDiagnosis(
  target: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
  cacheMs = 500,
  staleMs = 5_000,
): CoreDiagnosis {
  // The TLS name override and the short reconnect backoff still apply; the balancing policy does not.
  const { 'grpc.service_config': _policy, ...clientOptions } = options;
  const cores = targetAddresses(target).map(({ address, target: one }) => ({
    address,
    target: one,
    client: undefined as HealthClient | undefined,
  }));
  /** The latest round of checks: when it started, and its answers once they are in. */
  let last:
    | { at: number; reports: Promise<readonly CoreReport[]>; answers?: readonly CoreReport[] }
    | undefined;
  return {
    diagnose(timeoutMs) {
      const now = Date.now();
      if (last && now - last.at < cacheMs) return last.answers ? Promise.resolve(last.answers) : last.reports;
      const previous = last;
      const round: NonNullable<typeof last> = {
        at: now,
        reports: Promise.all(
          cores.map((core) => {
            core.client ??= new HealthClient(core.target, credentials, clientOptions);
            return diagnoseOne(core.address, core.client, timeoutMs);
          }),
        ),
      };
      void round.reports.then((answers) => {
        round.answers = answers;
      });
      last = round;
      // A recent answer now, the new round for the next caller: a check under load takes up to
      // ~150 ms here, and HAProxy gives /readyz its check interval (200 ms in the tests).
      if (previous?.answers && now - previous.at < staleMs) return Promise.resolve(previous.answers);
      return round.reports;
    },
    close() {
      for (const core of cores) {
        core.client?.close();
        core.client = undefined;
      }
    },
  };
}
