import { AcmCertificate } from '@cdktf/provider-aws/lib/acm-certificate/index.js';
import { Construct } from 'constructs';
import { domainProblem, KioskConfigError } from '../validation.js';

export interface EksWebCertificateProps {
  /** Host name of the web UI / API. */
  readonly domain: string;
}

/**
 * The ACM certificate of the lab's ALB HTTPS listener, validated through DNS: `validationRecords` (output
 * `certificate_validation_records`) are the CNAME records to create in the domain's zone, after which ACM
 * issues and renews the certificate by itself. The AWS Load Balancer Controller finds it from the Ingress's
 * `spec.tls` host (certificate discovery), so the chart needs no ARN. Replaced before destroyed, so a domain
 * change never leaves the listener without a certificate.
 */
export class EksWebCertificate extends Construct {
  readonly certificate: AcmCertificate;
  readonly arn: string;
  /** `domain_validation_options`: name, type and value of each DNS record ACM checks (a Terraform reference). */
  readonly validationRecords: string;

  constructor(scope: Construct, id: string, props: EksWebCertificateProps) {
    super(scope, id);
    const problem = domainProblem(props.domain);
    if (problem) throw new KioskConfigError(`'domain' ('${props.domain}') ${problem}`);
    this.certificate = new AcmCertificate(this, 'certificate', {
      domainName: props.domain,
      validationMethod: 'DNS',
      keyAlgorithm: 'EC_prime256v1',
      lifecycle: { createBeforeDestroy: true },
    });
    this.arn = this.certificate.arn;
    this.validationRecords = this.certificate.domainValidationOptions as unknown as string;
  }
}
