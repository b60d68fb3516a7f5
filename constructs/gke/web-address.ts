import { ComputeGlobalAddress } from '@cdktf/provider-google/lib/compute-global-address/index.js';
import { Construct } from 'constructs';
import { guardUniqueCloudNames } from '../unique-names.js';
import { webAddressName } from '../identity-names.js';

export interface GkeWebAddressProps {
  readonly project: string;
  /** Lab name; the address is `<name>-web` (`webAddressName`), what the chart's Ingress annotation names. */
  readonly name: string;
}

/**
 * The global static IPv4 address of the lab's HTTPS load balancer (the chart's Ingress takes it by name through
 * `kubernetes.io/ingress.global-static-ip-name`). Point the domain's A record at `address` before the
 * Google-managed certificate can be issued; it survives a re-created Ingress, so the record stays right.
 */
export class GkeWebAddress extends Construct {
  readonly globalAddress: ComputeGlobalAddress;
  /** The IP address (a Terraform reference). */
  readonly address: string;

  constructor(scope: Construct, id: string, props: GkeWebAddressProps) {
    super(scope, id);
    guardUniqueCloudNames(this);
    this.globalAddress = new ComputeGlobalAddress(this, 'address', {
      project: props.project,
      name: webAddressName(props.name),
      description: `cellkiosk ${props.name} web UI / API load balancer`,
    });
    this.address = this.globalAddress.address;
  }
}
