/**
 * Whether any core is serving, for `/readyz`: one channel with the same policy as the pool, whose
 * connectivity state is READY exactly when round_robin has a connected core that the health watch
 * calls SERVING. Kept apart from the pool so readiness is known before the first stream.
 */
import * as grpc from '@grpc/grpc-js';

const State = grpc.connectivityState;

export interface CoreReadiness {
  /** true once some core serves; waits up to `timeoutMs` while connections are being made. */
  check(timeoutMs: number): Promise<boolean>;
  close(): void;
}

export function createCoreReadiness(
  target: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
): CoreReadiness {
  let channel: grpc.Channel | undefined;
  const settled = (state: grpc.connectivityState) =>
    state === State.READY || state === State.TRANSIENT_FAILURE || state === State.SHUTDOWN;
  return {
    async check(timeoutMs) {
      channel ??= new grpc.Channel(target, credentials, options);
      const open = channel;
      const deadline = Date.now() + timeoutMs;
      let state = open.getConnectivityState(true);
      while (!settled(state) && Date.now() < deadline) {
        const from = state;
        await new Promise<void>((resolve) => open.watchConnectivityState(from, deadline, () => resolve()));
        state = open.getConnectivityState(true);
      }
      return state === State.READY;
    },
    close() {
      channel?.close();
      channel = undefined;
    },
  };
}
