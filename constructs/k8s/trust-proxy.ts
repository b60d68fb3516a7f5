import type { k8s } from 'cdk8s-plus-34';
import type { CloudProvider } from '../gpu-type.js';
import { KioskConfigError, requireIntInRange } from '../validation.js';

/**
 * KIOSK_TRUST_PROXY for the chart's own Ingress. fastify counts the TCP peer as hop 0 and the entries of
 * X-Forwarded-For from the end. GKE's external Application Load Balancer (`gce` class) appends
 * `<client>, <forwarding rule address>` and the peer is one of its proxies (130.211.0.0/22, 35.191.0.0/16):
 * 2 hops. The ALB (IP targets, `xff_header_processing.mode` left at its default `append`) appends
 * `<client>` and the peer is the ALB node: 1 hop. A third-party controller: unknown, so unset.
 */
function defaultTrustProxy(provider: CloudProvider, ingressClassName: string | undefined): number | false {
  if (provider === 'gke') return ingressClassName === undefined ? 2 : false;
  return (ingressClassName ?? 'alb') === 'alb' ? 1 : false;
}
/** An IPv4 or IPv6 address or CIDR (what core/config.ts's KIOSK_TRUST_PROXY accepts in a list). */
const PROXY_ADDRESS = /^((\d{1,3})(\.\d{1,3}){3}(\/\d{1,2})?|[0-9a-fA-F:]*:[0-9a-fA-F:.]*(\/\d{1,3})?)$/;

/**
 * The API's KIOSK_TRUST_PROXY variable (none when `false`) for `KioskChartProps.trustProxy`, or its default
 * for the provider and Ingress class; throws KioskConfigError for a bad hop count or address.
 */
export function trustProxyEnv(
  provider: CloudProvider,
  ingressClassName: string | undefined,
  given: number | readonly string[] | false | undefined,
): k8s.EnvVar[] {
  const trustProxy = given ?? defaultTrustProxy(provider, ingressClassName);
  if (typeof trustProxy === 'number') requireIntInRange('trustProxy', trustProxy, 1, 64);
  if (Array.isArray(trustProxy)) {
    const bad = trustProxy.find((a) => !PROXY_ADDRESS.test(a));
    if (bad !== undefined || trustProxy.length === 0)
      throw new KioskConfigError(
        `'trustProxy' (${JSON.stringify(trustProxy)}) must be a hop count or proxy addresses/CIDRs such as 10.0.0.0/16`,
      );
  }
  if (trustProxy === false) return [];
  const value = typeof trustProxy === 'number' ? String(trustProxy) : trustProxy.join(',');
  return [{ name: 'KIOSK_TRUST_PROXY', value }];
}
