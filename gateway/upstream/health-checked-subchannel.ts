/**
 * Client-side health checking (gRFC A17) for one subchannel, which grpc-js does not implement:
 * while the connection is up, a `grpc.health.v1.Health/Watch` stream runs over it and the core's
 * answers drive the wrapper's health. round_robin's leaves (pick_first with health reporting) turn
 * an unhealthy subchannel into TRANSIENT_FAILURE, so a NOT_SERVING core gets no new picks; streams
 * already open on it are not touched.
 *
 * As in A17, a freshly connected subchannel is shown as CONNECTING until the first answer arrives:
 * otherwise the first picks after a (re)connect would land on a core that is about to say
 * NOT_SERVING. A core without the health service (UNIMPLEMENTED) is taken as serving, unchecked.
 * A Watch that fails while the connection stays up counts as not serving and is retried with backoff.
 */
import * as grpc from '@grpc/grpc-js';
import { HealthClient, type ServingStatus } from './health-client.js';

type SubchannelInterface = grpc.experimental.SubchannelInterface;
type ConnectivityStateListener = grpc.experimental.ConnectivityStateListener;
const State = grpc.connectivityState;
type State = grpc.connectivityState;

/** What the core last said; `unknown` until its first answer on this connection. */
type Health = 'unknown' | 'serving' | 'not_serving' | 'unchecked';

export const HEALTH_TRACER = 'health_checked_round_robin';
const RETRY = { initialMs: 250, maxMs: 5_000 };

const trace = (text: string) => grpc.experimental.trace(grpc.logVerbosity.DEBUG, HEALTH_TRACER, text);

export class HealthCheckedSubchannel extends grpc.experimental.BaseSubchannelWrapper {
  private health: Health = 'unknown';
  private readonly listeners = new Set<ConnectivityStateListener>();
  /** The state listeners last heard (the real state, with READY hidden while health is unknown). */
  private reported: State;
  private keepaliveTime = -1;
  private client: HealthClient | undefined;
  private watch: grpc.ClientReadableStream<{ status: ServingStatus }> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY.initialMs;
  private destroyed = false;

  private readonly onChildState: ConnectivityStateListener = (
    _subchannel,
    _previous,
    next,
    keepalive,
    errorMessage,
  ) => {
    this.keepaliveTime = keepalive;
    if (next === State.READY) this.startWatch();
    else this.stopWatch();
    this.report(errorMessage);
  };

  constructor(
    child: SubchannelInterface,
    private readonly serviceName: string,
  ) {
    super(child);
    this.reported = this.visible(child.getConnectivityState());
    child.addConnectivityStateListener(this.onChildState);
    if (child.getConnectivityState() === State.READY) this.startWatch();
  }

  private visible(real: State): State {
    return real === State.READY && this.health === 'unknown' ? State.CONNECTING : real;
  }

  /** Tells the listeners when what they should see has changed. */
  private report(errorMessage?: string): void {
    const next = this.visible(this.child.getConnectivityState());
    if (next === this.reported) return;
    const previous = this.reported;
    this.reported = next;
    // The connection error travels on, so round_robin's failure status (and our log) names its cause.
    for (const listener of [...this.listeners])
      listener(this, previous, next, this.keepaliveTime, errorMessage);
  }

  private setHealth(health: Health): void {
    if (health !== this.health) trace(`${this.getAddress()} ${this.serviceName || '(server)'}: ${health}`);
    this.health = health;
    // The flag first, the state second: pick_first reads the flag when it sees READY.
    this.setHealthy(health !== 'not_serving');
    this.report();
  }

  private startWatch(): void {
    if (this.watch || this.destroyed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // The call runs on this subchannel's own connection, not through the load balancer.
    this.client ??= new HealthClient('unused', grpc.credentials.createInsecure(), {
      channelOverride: this.child.getChannel(),
    });
    const call = this.client.Watch({ service: this.serviceName });
    this.watch = call;
    call.on('data', ({ status }: { status: ServingStatus }) => {
      this.retryMs = RETRY.initialMs;
      this.setHealth(status === 'SERVING' ? 'serving' : 'not_serving');
    });
    // A non-OK status also arrives as 'error'; 'status' carries it whole.
    call.on('error', () => {});
    call.on('status', ({ code, details }: grpc.StatusObject) => {
      if (this.watch !== call) return;
      this.watch = undefined;
      if (code === grpc.status.UNIMPLEMENTED) {
        trace(`${this.getAddress()}: no health service, not checked on this connection`);
        this.setHealth('unchecked');
        return;
      }
      if (this.destroyed || this.child.getConnectivityState() !== State.READY) return;
      trace(`${this.getAddress()}: health watch ended (${grpc.status[code]} ${details}); retrying`);
      this.setHealth('not_serving');
      this.retryTimer = setTimeout(() => this.startWatch(), this.retryMs);
      this.retryTimer.unref();
      this.retryMs = Math.min(this.retryMs * 2, RETRY.maxMs);
    });
  }

  /** The connection is gone (or going: GOAWAY): its next incarnation starts unknown. */
  private stopWatch(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const call = this.watch;
    this.watch = undefined;
    // Cancelled, so a draining core's tryShutdown does not wait for this stream.
    call?.cancel();
    this.health = 'unknown';
  }

  override getConnectivityState(): State {
    return this.visible(this.child.getConnectivityState());
  }

  override addConnectivityStateListener(listener: ConnectivityStateListener): void {
    this.listeners.add(listener);
  }

  override removeConnectivityStateListener(listener: ConnectivityStateListener): void {
    this.listeners.delete(listener);
  }

  protected override destroy(): void {
    super.destroy();
    this.destroyed = true;
    this.stopWatch();
    this.child.removeConnectivityStateListener(this.onChildState);
  }
}
