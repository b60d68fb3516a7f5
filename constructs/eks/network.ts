import { Eip } from '@cdktf/provider-aws/lib/eip/index.js';
import { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway/index.js';
import { NatGateway } from '@cdktf/provider-aws/lib/nat-gateway/index.js';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table/index.js';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association/index.js';
import { Subnet } from '@cdktf/provider-aws/lib/subnet/index.js';
import { Vpc } from '@cdktf/provider-aws/lib/vpc/index.js';
import { Construct } from 'constructs';
import { KioskConfigError } from '../validation.js';

export interface EksNetworkProps {
  /** Prefix of every resource name; also the EKS cluster name the subnets are tagged for. */
  readonly name: string;
  /** Availability zones, 2..3 (EKS needs subnets in at least two). */
  readonly zones: readonly string[];
  /** VPC range; subnets are carved from it (/24 public, /18 private per zone). Must be a /16. @default '10.0.0.0/16' */
  readonly vpcCidr?: string;
}

/**
 * A VPC for one EKS cluster: per zone a small public subnet (load balancers, NAT) and a large private subnet
 * (nodes and, with the VPC CNI, pods), an internet gateway, and one NAT gateway shared by all zones (the
 * cheapest layout: ~$33/month plus traffic; one per zone survives a zone outage at 3x the price). Subnets are
 * tagged so the AWS Load Balancer Controller puts internet-facing ALBs in public ones.
 */
export class EksNetwork extends Construct {
  readonly vpc: Vpc;
  readonly publicSubnets: Subnet[] = [];
  readonly privateSubnets: Subnet[] = [];
  readonly vpcCidr: string;

  constructor(scope: Construct, id: string, props: EksNetworkProps) {
    super(scope, id);
    if (props.zones.length < 2 || props.zones.length > 3) {
      throw new KioskConfigError(
        `'zones' (${props.zones.length} zones) must list 2..3 availability zones for EKS`,
      );
    }
    this.vpcCidr = props.vpcCidr ?? '10.0.0.0/16';
    const m = /^(\d{1,3})\.(\d{1,3})\.0\.0\/16$/.exec(this.vpcCidr);
    if (!m) throw new KioskConfigError(`'vpcCidr' ('${this.vpcCidr}') must be a /16 such as 10.0.0.0/16`);
    const base = `${m[1]}.${m[2]}`;
    const clusterTag = { [`kubernetes.io/cluster/${props.name}`]: 'shared' };

    this.vpc = new Vpc(this, 'vpc', {
      cidrBlock: this.vpcCidr,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: { Name: `${props.name}-vpc` },
    });
    const igw = new InternetGateway(this, 'igw', { vpcId: this.vpc.id, tags: { Name: `${props.name}-igw` } });
    const publicRoutes = new RouteTable(this, 'public-routes', {
      vpcId: this.vpc.id,
      route: [{ cidrBlock: '0.0.0.0/0', gatewayId: igw.id }],
      tags: { Name: `${props.name}-public` },
    });

    props.zones.forEach((zone, i) => {
      const pub = new Subnet(this, `public-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: zone,
        cidrBlock: `${base}.${i}.0/24`,
        mapPublicIpOnLaunch: false,
        tags: { Name: `${props.name}-public-${zone}`, 'kubernetes.io/role/elb': '1', ...clusterTag },
      });
      new RouteTableAssociation(this, `public-${i}-routes`, {
        subnetId: pub.id,
        routeTableId: publicRoutes.id,
      });
      this.publicSubnets.push(pub);
      this.privateSubnets.push(
        new Subnet(this, `private-${i}`, {
          vpcId: this.vpc.id,
          availabilityZone: zone,
          cidrBlock: `${base}.${64 * (i + 1)}.0/18`,
          tags: {
            Name: `${props.name}-private-${zone}`,
            'kubernetes.io/role/internal-elb': '1',
            ...clusterTag,
          },
        }),
      );
    });

    const natIp = new Eip(this, 'nat-ip', { domain: 'vpc', tags: { Name: `${props.name}-nat` } });
    const nat = new NatGateway(this, 'nat', {
      allocationId: natIp.id,
      subnetId: this.publicSubnets[0]!.id,
      tags: { Name: `${props.name}-nat` },
      dependsOn: [igw],
    });
    const privateRoutes = new RouteTable(this, 'private-routes', {
      vpcId: this.vpc.id,
      route: [{ cidrBlock: '0.0.0.0/0', natGatewayId: nat.id }],
      tags: { Name: `${props.name}-private` },
    });
    this.privateSubnets.forEach((s, i) => {
      new RouteTableAssociation(this, `private-${i}-routes`, {
        subnetId: s.id,
        routeTableId: privateRoutes.id,
      });
    });
  }
}
