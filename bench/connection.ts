/** What a load worker needs from one RouteChat connection, whichever transport carries it. */

export interface ConnectionEvents {
  /** A note came back (the core echoes every note at that location). */
  onNote(latitude: number, longitude: number): void;
  /** An error frame or a failed write: counted, never fatal for the run. */
  onError(): void;
  /** The stream ended; `status` is the gRPC status name. */
  onClosed(status: string): void;
}

export interface BenchConnection {
  send(latitude: number, longitude: number): void;
  /** Half-close and wait for the final status (or give up after `timeoutMs`). */
  end(timeoutMs: number): Promise<string>;
  /** Drop without a goodbye. */
  destroy(): void;
  /** Stop reading from the network (a slow consumer); `resume` starts again. */
  pauseReading(): void;
  resumeReading(): void;
}

export type OpenConnection = (events: ConnectionEvents) => Promise<BenchConnection>;

export function padMessage(bytes: number): string {
  const base = 'bench note ';
  return base.padEnd(Math.max(bytes, base.length), 'x');
}

/** Resolves with the status given to `onClosed`, or 'TIMEOUT'. */
export function closedWithin(
  subscribe: (resolve: (status: string) => void) => void,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('TIMEOUT'), timeoutMs);
    subscribe((status) => {
      clearTimeout(timer);
      resolve(status);
    });
  });
}
