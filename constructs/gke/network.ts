import { ComputeNetwork } from '@cdktf/provider-google/lib/compute-network/index.js';
import { ComputeRouter } from '@cdktf/provider-google/lib/compute-router/index.js';
import { ComputeRouterNat } from '@cdktf/provider-google/lib/compute-router-nat/index.js';
import { ComputeSubnetwork } from '@cdktf/provider-google/lib/compute-subnetwork/index.js';
import { Construct } from 'constructs';

export interface GkeNetworkProps {
  /** Prefix of every resource name. */
  readonly name: string;
  readonly region: string;
  /** @default - the provider's project */
  readonly project?: string;
  /** Node IP range. @default '10.10.0.0/20' */
  readonly nodeCidr?: string;
  /** Pod IP range (secondary range `pods`). @default '10.20.0.0/14' */
  readonly podCidr?: string;
  /** Service IP range (secondary range `services`). @default '10.24.0.0/20' */
  readonly serviceCidr?: string;
}

/**
 * A VPC for one GKE cluster: a custom-mode network, one subnet with secondary ranges for pods and services
 * (VPC-native), Private Google Access (nodes reach GCS without public IPs), and Cloud NAT so private nodes
 * can pull images from registries outside Google.
 */
export class GkeNetwork extends Construct {
  readonly network: ComputeNetwork;
  readonly subnet: ComputeSubnetwork;
  readonly podRangeName = 'pods';
  readonly serviceRangeName = 'services';

  constructor(scope: Construct, id: string, props: GkeNetworkProps) {
    super(scope, id);
    const project = props.project ? { project: props.project } : {};
    this.network = new ComputeNetwork(this, 'vpc', {
      name: `${props.name}-vpc`,
      autoCreateSubnetworks: false,
      ...project,
    });
    this.subnet = new ComputeSubnetwork(this, 'subnet', {
      name: `${props.name}-nodes`,
      network: this.network.id,
      region: props.region,
      ipCidrRange: props.nodeCidr ?? '10.10.0.0/20',
      privateIpGoogleAccess: true,
      secondaryIpRange: [
        { rangeName: this.podRangeName, ipCidrRange: props.podCidr ?? '10.20.0.0/14' },
        { rangeName: this.serviceRangeName, ipCidrRange: props.serviceCidr ?? '10.24.0.0/20' },
      ],
      ...project,
    });
    const router = new ComputeRouter(this, 'router', {
      name: `${props.name}-router`,
      network: this.network.id,
      region: props.region,
      ...project,
    });
    new ComputeRouterNat(this, 'nat', {
      name: `${props.name}-nat`,
      router: router.name,
      region: props.region,
      natIpAllocateOption: 'AUTO_ONLY',
      sourceSubnetworkIpRangesToNat: 'ALL_SUBNETWORKS_ALL_IP_RANGES',
      ...project,
    });
  }
}
