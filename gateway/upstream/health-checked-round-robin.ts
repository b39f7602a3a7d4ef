/**
 * `health_checked_round_robin`: grpc-js's own round_robin over subchannels wrapped with
 * HealthCheckedSubchannel, the way grpc-go and grpc-java put health checking under round_robin.
 * Registered with grpc-js once, at import; a channel selects it through its service config
 * (`healthCheckedRoundRobinOptions`). The balancing itself, reconnects and re-resolution stay
 * round_robin's.
 */
import * as grpc from '@grpc/grpc-js';
import { HealthCheckedSubchannel } from './health-checked-subchannel.js';

type ChannelControlHelper = grpc.experimental.ChannelControlHelper;
type TypedLoadBalancingConfig = grpc.experimental.TypedLoadBalancingConfig;
type LoadBalancer = grpc.experimental.LoadBalancer;
type Endpoint = grpc.experimental.Endpoint;

export const HEALTH_CHECKED_ROUND_ROBIN = 'health_checked_round_robin';

class HealthCheckedRoundRobinConfig implements TypedLoadBalancingConfig {
  /** `serviceName` as in `healthCheckConfig`: the name the Watch asks about ("" = the whole server). */
  constructor(readonly serviceName: string) {}

  getLoadBalancerName(): string {
    return HEALTH_CHECKED_ROUND_ROBIN;
  }

  toJsonObject(): object {
    return { [HEALTH_CHECKED_ROUND_ROBIN]: { serviceName: this.serviceName } };
  }

  static createFromJson(json: unknown): HealthCheckedRoundRobinConfig {
    const serviceName = (json as { serviceName?: unknown } | null)?.serviceName ?? '';
    if (typeof serviceName !== 'string') throw new Error('serviceName must be a string');
    return new HealthCheckedRoundRobinConfig(serviceName);
  }
}

class HealthCheckedRoundRobin implements LoadBalancer {
  private readonly roundRobin: grpc.experimental.ChildLoadBalancerHandler;
  private serviceName = '';

  constructor(helper: ChannelControlHelper) {
    this.roundRobin = new grpc.experimental.ChildLoadBalancerHandler(
      grpc.experimental.createChildChannelControlHelper(helper, {
        createSubchannel: (address, args) =>
          new HealthCheckedSubchannel(helper.createSubchannel(address, args), this.serviceName),
      }),
    );
  }

  updateAddressList(
    endpoints: grpc.experimental.StatusOr<Endpoint[]>,
    config: TypedLoadBalancingConfig,
    options: grpc.ChannelOptions,
    resolutionNote: string,
  ): boolean {
    if (!(config instanceof HealthCheckedRoundRobinConfig)) return false;
    this.serviceName = config.serviceName;
    roundRobinConfig ??= grpc.experimental.parseLoadBalancingConfig({ round_robin: {} });
    return this.roundRobin.updateAddressList(endpoints, roundRobinConfig, options, resolutionNote);
  }

  exitIdle(): void {
    this.roundRobin.exitIdle();
  }

  resetBackoff(): void {
    this.roundRobin.resetBackoff();
  }

  destroy(): void {
    this.roundRobin.destroy();
  }

  getTypeName(): string {
    return HEALTH_CHECKED_ROUND_ROBIN;
  }
}

let roundRobinConfig: TypedLoadBalancingConfig | undefined;

grpc.experimental.registerLoadBalancerType(
  HEALTH_CHECKED_ROUND_ROBIN,
  HealthCheckedRoundRobin,
  HealthCheckedRoundRobinConfig,
);

/**
 * Channel options selecting the policy. TXT-record service configs are ignored so DNS cannot swap
 * the policy out.
 */
export const healthCheckedRoundRobinOptions = (serviceName: string): grpc.ChannelOptions => ({
  'grpc.service_config': JSON.stringify({
    loadBalancingConfig: [{ [HEALTH_CHECKED_ROUND_ROBIN]: { serviceName } }],
  }),
  'grpc.service_config_disable_resolution': 1,
});
