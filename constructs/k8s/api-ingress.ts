import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import type { CloudProvider } from '../gpu-type.js';
import { KioskConfigError } from '../validation.js';

export interface KioskApiIngressProps {
  readonly provider: CloudProvider;
  readonly namespace: string;
  /** Name of the Ingress and of the API Service it routes to (port `http`). */
  readonly serviceName: string;
  readonly labels: Record<string, string>;
  /** Host the Ingress answers. @default - any host */
  readonly domain?: string;
  /**
   * Serve HTTPS on `domain` and redirect HTTP to it (needs `domain`).
   * GKE: a Google-managed certificate (`ManagedCertificate`) and a `FrontendConfig` with `redirectToHttps`;
   * EKS: an ALB HTTPS listener with the ACM certificate for `domain` and `ssl-redirect`.
   * @default - true when `domain` is given
   */
  readonly tls?: boolean;
  /**
   * GKE: name of the global static IP the load balancer takes (`kubernetes.io/ingress.global-static-ip-name`),
   * so the domain's DNS record outlives a re-created Ingress. @default - an ephemeral address
   */
  readonly staticIpName?: string;
  /**
   * EKS: ACM certificate ARN for the HTTPS listener (`alb.ingress.kubernetes.io/certificate-arn`).
   * @default - the controller discovers the issued ACM certificate that covers `domain` (spec.tls hosts)
   */
  readonly certificateArn?: string;
  /** Ingress class for a third-party controller. @default - GKE: the `gce` annotation; EKS: 'alb' */
  readonly ingressClassName?: string;
}

/** TLS policy of the ALB's HTTPS listener: TLS 1.3 and 1.2 only. */
export const ALB_SSL_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';

/**
 * The API's Ingress with TLS when the lab has a domain.
 * - GKE (`gce` class): `ManagedCertificate` `<name>` (networking.gke.io/v1) for the domain, `FrontendConfig`
 *   `<name>` (networking.gke.io/v1beta1) redirecting HTTP with 301, and the annotations
 *   `networking.gke.io/managed-certificates`, `networking.gke.io/v1beta1.FrontendConfig` and, with
 *   `staticIpName`, `kubernetes.io/ingress.global-static-ip-name`. Google issues the certificate once the
 *   domain's A record points at the load balancer (up to an hour).
 * - EKS (`alb` class, AWS Load Balancer Controller): listeners HTTP 80 and HTTPS 443
 *   (`alb.ingress.kubernetes.io/listen-ports`), `ssl-redirect: '443'`, `ssl-policy` TLS 1.2+, and `spec.tls`
 *   naming the domain, from which the controller finds the ACM certificate (the stack's `AcmCertificate`).
 * - another `ingressClassName`: `spec.tls` with the Secret `<name>-tls`, which the lab provides.
 * Without TLS the Ingress serves plain HTTP on port 80.
 */
export class KioskApiIngress extends Construct {
  readonly ingress: k8s.KubeIngress;
  /** Whether the Ingress serves HTTPS. */
  readonly tls: boolean;
  readonly managedCertificate?: ApiObject;
  readonly frontendConfig?: ApiObject;

  constructor(scope: Construct, id: string, props: KioskApiIngressProps) {
    super(scope, id);
    const { provider, domain } = props;
    const tls = props.tls ?? domain !== undefined;
    if (tls && domain === undefined) {
      throw new KioskConfigError(`'tls' (true) needs 'domain': a certificate is issued for a host name`);
    }
    this.tls = tls;
    const name = props.serviceName;
    // GKE's controller ignores spec.ingressClassName and only acts on the class annotation (GKE >= 1.18:
    // ingressClassName set without the annotation means "not mine"), so GKE gets the annotation instead.
    const gke = provider === 'gke' && props.ingressClassName === undefined;
    const alb = provider === 'eks' && (props.ingressClassName ?? 'alb') === 'alb';
    const annotations: Record<string, string> = {};
    if (gke) {
      annotations['kubernetes.io/ingress.class'] = 'gce';
      if (props.staticIpName) annotations['kubernetes.io/ingress.global-static-ip-name'] = props.staticIpName;
      if (tls) {
        this.managedCertificate = new ApiObject(this, 'managed-certificate', {
          apiVersion: 'networking.gke.io/v1',
          kind: 'ManagedCertificate',
          metadata: { name, namespace: props.namespace, labels: props.labels },
          spec: { domains: [domain] },
        });
        this.frontendConfig = new ApiObject(this, 'frontend-config', {
          apiVersion: 'networking.gke.io/v1beta1',
          kind: 'FrontendConfig',
          metadata: { name, namespace: props.namespace, labels: props.labels },
          spec: { redirectToHttps: { enabled: true, responseCodeName: 'MOVED_PERMANENTLY_DEFAULT' } },
        });
        annotations['networking.gke.io/managed-certificates'] = name;
        annotations['networking.gke.io/v1beta1.FrontendConfig'] = name;
      }
    } else if (alb) {
      annotations['alb.ingress.kubernetes.io/scheme'] = 'internet-facing';
      annotations['alb.ingress.kubernetes.io/target-type'] = 'ip';
      annotations['alb.ingress.kubernetes.io/healthcheck-path'] = '/api/health-check';
      if (tls) {
        annotations['alb.ingress.kubernetes.io/listen-ports'] = '[{"HTTP": 80}, {"HTTPS": 443}]';
        annotations['alb.ingress.kubernetes.io/ssl-redirect'] = '443';
        annotations['alb.ingress.kubernetes.io/ssl-policy'] = ALB_SSL_POLICY;
        if (props.certificateArn)
          annotations['alb.ingress.kubernetes.io/certificate-arn'] = props.certificateArn;
      }
    }
    this.ingress = new k8s.KubeIngress(this, 'ingress', {
      metadata: {
        name,
        namespace: props.namespace,
        labels: props.labels,
        ...(Object.keys(annotations).length ? { annotations } : {}),
      },
      spec: {
        ...(gke ? {} : { ingressClassName: props.ingressClassName ?? 'alb' }),
        // The ALB controller discovers the ACM certificate from these hosts. GKE's controller would read
        // spec.tls as a pre-shared Secret, so the managed certificate goes by annotation there instead. A
        // third-party controller reads the certificate from the Secret `<name>-tls` (cert-manager or the lab).
        ...(tls && alb ? { tls: [{ hosts: [domain!] }] } : {}),
        ...(tls && !gke && !alb ? { tls: [{ hosts: [domain!], secretName: `${name}-tls` }] } : {}),
        rules: [
          {
            ...(domain ? { host: domain } : {}),
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name, port: { name: 'http' } } },
                },
              ],
            },
          },
        ],
      },
    });
  }
}
