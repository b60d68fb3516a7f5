import { readFileSync } from 'node:fs';
import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { ROLE_BUCKET_GRANTS } from '../constructs/roles.js';
import { parseLabConfig, type LabConfig } from './lab-config.js';
import { labImages, LabStack } from './lab-stack.js';

/** Every bucket prefix some role is granted, sorted. */
const grantedPrefixes = () =>
  [...new Set(Object.values(ROLE_BUCKET_GRANTS).flatMap((gs) => gs.map((g) => g.prefix)))].sort();

/* eslint-disable @typescript-eslint/no-explicit-any -- synthesized Terraform JSON is untyped */
type Resources = Record<string, Record<string, any>>;
interface Synthed {
  resource: Resources;
  data?: Resources;
  output: Record<string, { value: string }>;
  provider: Record<string, any[]>;
}

const example = (p: string): LabConfig =>
  parseLabConfig(JSON.parse(readFileSync(new URL(`./examples/${p}.json`, import.meta.url), 'utf8')));

function synth(config: LabConfig): Synthed {
  const app = Testing.app({ stackTraces: false });
  const json = Testing.synth(new LabStack(app, 'kiosk', config));
  return JSON.parse(json) as Synthed;
}
const all = (s: Synthed, type: string): any[] => Object.values(s.resource[type] ?? {});
const one = (s: Synthed, type: string, name: string): any => {
  const r = all(s, type).find((x) => x.name === name || x.node_group_name === name);
  if (!r) throw new Error(`no ${type} named ${name}`);
  return r;
};

describe('LabStack on GKE', () => {
  const gke = example('gke');

  it('matches the snapshot', () => {
    expect(synth(gke)).toMatchSnapshot();
  });

  it('creates the GKE resource set', () => {
    const s = synth(gke);
    expect(Object.keys(s.resource).sort()).toEqual([
      'google_artifact_registry_repository', // images.registry names one in the lab's project (issue 20 #4)
      'google_compute_global_address', // the HTTPS load balancer's static IP (issue 20 #1)
      'google_compute_network',
      'google_compute_router',
      'google_compute_router_nat',
      'google_compute_subnetwork',
      'google_container_cluster',
      'google_container_node_pool',
      'google_project_iam_custom_role', // objects list + delete, no read (the api's delete grants)
      'google_project_iam_member',
      'google_service_account',
      'google_service_account_iam_member',
      'google_storage_bucket',
      'google_storage_bucket_iam_member',
    ]);
    const cluster = one(s, 'google_container_cluster', 'nuclei-lab');
    expect(cluster.workload_identity_config).toEqual({ workload_pool: 'nuclei-lab-kiosk.svc.id.goog' });
    expect(cluster.datapath_provider).toBe('ADVANCED_DATAPATH');
    expect(cluster.private_cluster_config.enable_private_nodes).toBe(true);
    expect(cluster.location).toBe('us-central1-a');
  });

  it('makes the GPU pool scale from 0, spot, tainted, with the accelerator and driver install', () => {
    const pool = one(synth(gke), 'google_container_node_pool', 'gpu');
    expect(pool.autoscaling).toMatchObject({ total_min_node_count: 0, total_max_node_count: 4 });
    expect(pool.node_config.spot).toBe(true);
    expect(pool.node_config.machine_type).toBe('n1-standard-4');
    expect(pool.node_config.taint).toEqual([
      { key: 'nvidia.com/gpu', value: 'present', effect: 'NO_SCHEDULE' },
    ]);
    expect(pool.node_config.guest_accelerator).toEqual([
      { type: 'nvidia-tesla-t4', count: 1, gpu_driver_installation_config: { gpu_driver_version: 'LATEST' } },
    ]);
    const cpu = one(synth(gke), 'google_container_node_pool', 'cpu');
    expect(cpu.node_config.taint).toBeUndefined();
    expect(cpu.node_config.spot).toBe(false);
  });

  it('keeps the bucket private with lifecycle expiry and CORS for the web origin', () => {
    const b = one(synth(gke), 'google_storage_bucket', 'nuclei-lab-kiosk-data');
    expect(b.public_access_prevention).toBe('enforced');
    expect(b.uniform_bucket_level_access).toBe(true);
    expect(b.force_destroy).toBe(false);
    expect(b.lifecycle_rule.slice(0, 4)).toEqual([
      { action: { type: 'Delete' }, condition: { age: 7, matches_prefix: ['uploads/'] } },
      { action: { type: 'Delete' }, condition: { age: 30, matches_prefix: ['results/'] } },
      { action: { type: 'Delete' }, condition: { age: 7, matches_prefix: ['scratch/'] } },
      { action: { type: 'Delete' }, condition: { age: 30, matches_prefix: ['training/'] } },
    ]);
    // every prefix the kiosk writes expires, but the model registry: a new prefix needs a decision here
    const expiring = b.lifecycle_rule.flatMap((r: any) => r.condition.matches_prefix ?? []);
    expect(grantedPrefixes().filter((p) => !expiring.includes(p))).toEqual(['models/']);
    expect(b.cors).toEqual([
      {
        origin: ['https://kiosk.nuclei-lab.example.org'],
        method: ['GET', 'HEAD'],
        response_header: ['Content-Type', 'ETag'],
        max_age_seconds: 3600,
      },
    ]);
  });

  it('grants each identity only its prefixes on this bucket; the autoscaler nothing', () => {
    const s = synth(gke);
    const grants = all(s, 'google_storage_bucket_iam_member');
    expect(
      grants.every((g) => g.condition.expression.includes('projects/_/buckets/nuclei-lab-kiosk-data')),
    ).toBe(true);
    // Which permissions each access level stands for: constructs/bucket-grants.test.ts.
    const of = (role: string) =>
      grants.filter((g) => g.member.includes(`identity-${role}_`)).map((g) => g.condition.title);
    expect(of('gpu-worker').sort()).toEqual(
      ROLE_BUCKET_GRANTS['gpu-worker'].map((g) => `gpu-worker ${g.prefix.slice(0, -1)}-${g.access}`).sort(),
    );
    expect(of('autoscaler')).toEqual([]);
    expect(all(s, 'google_project_iam_member').every((m) => m.member.includes('node-sa'))).toBe(true);
    const wi = all(s, 'google_service_account_iam_member').map((m) => m.member);
    expect(wi).toContain('serviceAccount:nuclei-lab-kiosk.svc.id.goog[cellkiosk/kiosk-cpu-worker]');
  });

  it('binds workload identity only once the cluster (and with it PROJECT.svc.id.goog) exists', () => {
    const s = synth(gke);
    const [clusterId] = Object.keys(s.resource.google_container_cluster!);
    const wi = all(s, 'google_service_account_iam_member').filter(
      (m) => m.role === 'roles/iam.workloadIdentityUser',
    );
    expect(wi).toHaveLength(5);
    for (const m of wi) {
      expect(m.member).toMatch(/^serviceAccount:nuclei-lab-kiosk\.svc\.id\.goog\[cellkiosk\/kiosk-/);
      // Without it Terraform creates the binding in parallel with the cluster, and on a project that never had
      // a workload-identity cluster IAM answers "Identity Pool does not exist (nuclei-lab-kiosk.svc.id.goog)".
      expect(m.depends_on).toContain(`google_container_cluster.${clusterId}`);
    }
  });

  it('outputs the endpoint and the get-credentials command', () => {
    const s = synth(gke);
    expect(s.output.credentials_command!.value).toBe(
      'gcloud container clusters get-credentials nuclei-lab --zone us-central1-a --project nuclei-lab-kiosk',
    );
    expect(s.output.cluster_endpoint!.value).toMatch(/google_container_cluster\..*\.endpoint/);
  });

  it('uses defaults when the config leaves things out (regional cluster, 2 GPU nodes, CORS for any origin)', () => {
    const s = synth(
      parseLabConfig({
        name: 'lab2',
        provider: 'gke',
        project: 'lab2-project',
        region: 'europe-west4',
        gpu: { type: 'nvidia-l4' },
        bucket: 'lab2-data',
        images: { registry: 'europe-docker.pkg.dev/lab2-project/cellkiosk' },
        insecureHttp: true,
      }),
    );
    const cluster = one(s, 'google_container_cluster', 'lab2');
    expect(cluster.location).toBe('europe-west4');
    expect(cluster.deletion_protection).toBe(true);
    const gpu = one(s, 'google_container_node_pool', 'gpu');
    expect(gpu.autoscaling).toMatchObject({ total_min_node_count: 0, total_max_node_count: 2 });
    expect(gpu.node_config.machine_type).toBe('g2-standard-4');
    expect(one(s, 'google_container_node_pool', 'cpu').node_config.machine_type).toBe('e2-standard-4');
    // The viewer still fetches labels from signed URLs: GET from any origin, no credentials.
    expect(one(s, 'google_storage_bucket', 'lab2-data').cors).toEqual([
      {
        origin: ['*'],
        method: ['GET', 'HEAD'],
        response_header: ['Content-Type', 'ETag'],
        max_age_seconds: 3600,
      },
    ]);
  });
});

describe('LabStack on EKS', () => {
  const eks = example('eks');

  it('matches the snapshot', () => {
    expect(synth(eks)).toMatchSnapshot();
  });

  it('creates the cluster with an OIDC provider for IRSA and pins the account', () => {
    const s = synth(eks);
    expect(all(s, 'aws_eks_cluster')).toHaveLength(1);
    expect(all(s, 'aws_iam_openid_connect_provider')[0].client_id_list).toEqual(['sts.amazonaws.com']);
    expect(s.provider.aws![0].allowed_account_ids).toEqual(['123456789012']);
    expect(all(s, 'aws_subnet')).toHaveLength(4);
    expect(s.output.credentials_command!.value).toBe(
      'aws eks update-kubeconfig --name nuclei-lab --region us-east-1',
    );
  });

  it('makes the GPU node group scale from 0 on spot with the NVIDIA AMI and the taint', () => {
    const gpu = one(synth(eks), 'aws_eks_node_group', 'gpu');
    expect(gpu.scaling_config).toEqual({ min_size: 0, max_size: 4, desired_size: 0 });
    expect(gpu.capacity_type).toBe('SPOT');
    expect(gpu.ami_type).toBe('AL2023_x86_64_NVIDIA');
    expect(gpu.instance_types).toEqual(['g4dn.xlarge']);
    expect(gpu.taint).toEqual([{ key: 'nvidia.com/gpu', value: 'present', effect: 'NO_SCHEDULE' }]);
    expect(gpu.lifecycle.ignore_changes).toEqual(['scaling_config[0].desired_size']);
    // Nodes only join once the node role's policies are attached.
    expect(gpu.depends_on.map((d: string) => d.replace(/_[0-9A-F]{8}$/, ''))).toEqual([
      'aws_iam_role_policy_attachment.kiosk_cluster_node-role-AmazonEKSWorkerNodePolicy',
      'aws_iam_role_policy_attachment.kiosk_cluster_node-role-AmazonEKS_CNI_Policy',
      'aws_iam_role_policy_attachment.kiosk_cluster_node-role-AmazonEC2ContainerRegistryReadOnly',
    ]);
    const cpu = one(synth(eks), 'aws_eks_node_group', 'cpu');
    expect(cpu).toMatchObject({ capacity_type: 'ON_DEMAND', ami_type: 'AL2023_x86_64_STANDARD' });
  });

  it('installs the EBS CSI driver add-on with an IRSA role of its own, once the CPU nodes exist (Redis needs a volume)', () => {
    const s = synth(eks);
    const addons = all(s, 'aws_eks_addon');
    expect(addons.map((a) => a.addon_name)).toEqual(['aws-ebs-csi-driver']);
    const addon = addons[0];
    expect(addon.cluster_name).toMatch(/^\$\{aws_eks_cluster\..*\.name\}$/);
    // Its controller runs on the nodes: created before them, the add-on stays DEGRADED and the apply times out.
    expect(addon.depends_on).toEqual(
      expect.arrayContaining([expect.stringMatching(/^aws_eks_node_group\..*cpu-pool/)]),
    );
    // The role the add-on's ServiceAccount assumes: trusted by kube-system/ebs-csi-controller-sa only ...
    const roleId = /^\$\{aws_iam_role\.([^.]+)\.arn\}$/.exec(addon.service_account_role_arn)![1]!;
    const role = s.resource.aws_iam_role![roleId];
    const trustId = /data\.aws_iam_policy_document\.([^.]+)\.json/.exec(role.assume_role_policy)![1]!;
    const trust = s.data!.aws_iam_policy_document![trustId].statement[0];
    expect(trust.actions).toEqual(['sts:AssumeRoleWithWebIdentity']);
    expect(trust.condition.map((c: any) => c.values[0])).toEqual([
      'system:serviceaccount:kube-system:ebs-csi-controller-sa',
      'sts.amazonaws.com',
    ]);
    // ... holding AWS's managed policy for the driver.
    const attached = all(s, 'aws_iam_role_policy_attachment').filter((a) => a.role.includes(`.${roleId}.`));
    expect(attached.map((a) => a.policy_arn)).toEqual([
      'arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy',
    ]);
  });

  it('lets the web UI fetch signed URLs cross-origin: GET/HEAD from its domain, or any origin without one', () => {
    const rule = (config: LabConfig) => {
      const cors = all(synth(config), 'aws_s3_bucket_cors_configuration');
      expect(cors).toHaveLength(1);
      expect(cors[0].bucket).toMatch(/^\$\{aws_s3_bucket\./);
      return cors[0].cors_rule;
    };
    expect(rule(eks)).toEqual([
      {
        allowed_origins: ['https://kiosk.nuclei-lab.example.org'],
        allowed_methods: ['GET', 'HEAD'],
        expose_headers: ['ETag'],
        max_age_seconds: 3600,
      },
    ]);
    // A lab serving plain HTTP on its domain knowingly: that origin alone.
    expect(rule({ ...eks, insecureHttp: true })[0].allowed_origins).toEqual([
      'http://kiosk.nuclei-lab.example.org',
    ]);
    const { domain: _none, ...noDomain } = eks;
    expect(rule({ ...noDomain, insecureHttp: true })).toEqual([
      {
        allowed_origins: ['*'],
        allowed_methods: ['GET', 'HEAD'],
        expose_headers: ['ETag'],
        max_age_seconds: 3600,
      },
    ]);
  });

  it('blocks all public access to the bucket and denies plain HTTP', () => {
    const s = synth(eks);
    expect(all(s, 'aws_s3_bucket_public_access_block')[0]).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(all(s, 'aws_s3_bucket_ownership_controls')[0].rule.object_ownership).toBe('BucketOwnerEnforced');
    const tls = Object.values(s.data!.aws_iam_policy_document!).find(
      (d) => d.statement[0].sid === 'DenyInsecureTransport',
    );
    expect(tls.statement[0].condition).toEqual([
      { test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] },
    ]);
    const rules = all(s, 'aws_s3_bucket_lifecycle_configuration')[0].rule;
    expect(rules.slice(0, 4).map((r: any) => [r.filter[0].prefix, r.expiration[0].days])).toEqual([
      ['uploads/', 7],
      ['results/', 30],
      ['scratch/', 7],
      ['training/', 30],
    ]);
    const expiring = rules.filter((r: any) => r.expiration).map((r: any) => r.filter[0].prefix);
    expect(grantedPrefixes().filter((p) => !expiring.includes(p))).toEqual(['models/']);
  });

  it('scopes each IRSA role to one ServiceAccount and its bucket prefixes', () => {
    const s = synth(eks);
    const docs = Object.entries(s.data!.aws_iam_policy_document!);
    const trust = docs.find(([k]) => k.includes('identity-cpu-worker_trust'))![1];
    expect(trust.statement[0].condition[0].values).toEqual([
      'system:serviceaccount:cellkiosk:kiosk-cpu-worker',
    ]);
    const objectResources = docs
      .filter(([k]) => k.includes('bucket_cpu-worker-'))
      .flatMap(([, d]) =>
        d.statement.filter((st: any) => st.sid === 'Objects').flatMap((st: any) => st.resources),
      );
    expect(objectResources.sort()).toEqual(
      ROLE_BUCKET_GRANTS['cpu-worker'].map((g) => `arn:aws:s3:::nuclei-lab-kiosk-data/${g.prefix}*`).sort(),
    );
    const policies = all(s, 'aws_iam_role_policy');
    expect(policies.filter((p) => p.role.includes('identity-autoscaler'))).toEqual([]);
    expect(all(s, 'aws_iam_role').map((r) => r.name)).toContain('nuclei-lab-kiosk-gpu-worker');
  });
});

describe('LabStack: TLS, image registry and EKS add-ons (issue 20 #1, #3, #4)', () => {
  const gke = example('gke');
  const eks = example('eks');

  it('GKE: a global static IP for the HTTPS load balancer, named as the chart names it, as output web_address', () => {
    const s = synth(gke);
    const address = one(s, 'google_compute_global_address', 'nuclei-lab-web');
    expect(address.project).toBe('nuclei-lab-kiosk');
    expect(s.output.web_address!.value).toMatch(/^\$\{google_compute_global_address\.[^.]+\.address\}$/);
    // Without a domain there is nothing to point a record at: no address.
    const { domain: _d, ...noDomain } = gke;
    expect(all(synth({ ...noDomain, insecureHttp: true }), 'google_compute_global_address')).toEqual([]);
  });

  it('GKE: the Artifact Registry repository that images.registry names, its URL as output registry_url', () => {
    const s = synth(gke);
    const [repo] = all(s, 'google_artifact_registry_repository');
    expect(repo).toMatchObject({ location: 'us', repository_id: 'cellkiosk', format: 'DOCKER' });
    expect(s.output.registry_url!.value).toBe('us-docker.pkg.dev/nuclei-lab-kiosk/cellkiosk');
    expect(s.output.registry_url!.value).toBe(gke.images.registry);
    // A registry outside the lab's project is the lab's own: none created.
    const other = synth({ ...gke, images: { ...gke.images, registry: 'ghcr.io/some-lab' } });
    expect(all(other, 'google_artifact_registry_repository')).toEqual([]);
    expect(other.output.registry_url).toBeUndefined();
  });

  it('EKS: an ACM certificate validated by DNS, the records to create as an output', () => {
    const s = synth(eks);
    const [cert] = all(s, 'aws_acm_certificate');
    expect(cert).toMatchObject({
      domain_name: 'kiosk.nuclei-lab.example.org',
      validation_method: 'DNS',
      lifecycle: { create_before_destroy: true },
    });
    expect(s.output.certificate_validation_records!.value).toMatch(/domain_validation_options\)?\}$/);
    expect(s.output.certificate_arn!.value).toMatch(/^\$\{aws_acm_certificate\.[^.]+\.arn\}$/);
    expect(all(synth({ ...eks, insecureHttp: true }), 'aws_acm_certificate')).toEqual([]);
  });

  it('EKS: one scanned, encrypted ECR repository per image under the registry path, URLs as outputs', () => {
    const s = synth(eks);
    expect(
      all(s, 'aws_ecr_repository')
        .map((r) => r.name)
        .sort(),
    ).toEqual(['cellkiosk/cellkiosk', 'cellkiosk/cellkiosk-gpu']);
    for (const r of all(s, 'aws_ecr_repository')) {
      expect(r.image_scanning_configuration).toEqual({ scan_on_push: true });
      expect(r.encryption_configuration).toEqual([{ encryption_type: 'AES256' }]);
    }
    expect(all(s, 'aws_ecr_lifecycle_policy')).toHaveLength(2);
    expect(s.output.image_repository_cellkiosk_gpu!.value).toMatch(
      /aws_ecr_repository\.[^.]+\.repository_url/,
    );
  });

  it("EKS: images.trainImage (the GPU image's training target) gets its repository and runs the kiosk-train Job", () => {
    const config = parseLabConfig({
      ...JSON.parse(readFileSync(new URL('./examples/eks.json', import.meta.url), 'utf8')),
      images: { ...eks.images, trainImage: 'cellkiosk-gpu-train' },
    });
    expect(
      all(synth(config), 'aws_ecr_repository')
        .map((r) => r.name)
        .sort(),
    ).toEqual(['cellkiosk/cellkiosk', 'cellkiosk/cellkiosk-gpu', 'cellkiosk/cellkiosk-gpu-train']);
    expect(labImages(config).trainer).toBe(`${eks.images.registry}/cellkiosk-gpu-train:${eks.images.tag}`);
    expect(labImages(eks).trainer).toBeUndefined();
    expect(() => parseLabConfig({ ...config, images: { ...config.images, trainImage: '' } })).toThrow(
      /'images\.trainImage' \(""\) must be a non-empty string/,
    );
  });

  it('EKS: cluster-autoscaler and the AWS Load Balancer Controller as pinned Helm releases with IRSA roles', () => {
    const s = synth(eks);
    const releases = all(s, 'helm_release').sort((a, b) => (a.chart < b.chart ? 1 : -1));
    expect(releases.map((r) => [r.chart, r.namespace, r.provider])).toEqual([
      ['cluster-autoscaler', 'kube-system', 'helm.nuclei-lab'],
      ['aws-load-balancer-controller', 'kube-system', 'helm.nuclei-lab'],
    ]);
    for (const r of releases) expect(r.version).toMatch(/^\d+\.\d+\.\d+$/);
    const [helm] = s.provider.helm!;
    expect(helm.kubernetes.exec.args).toEqual([
      'eks',
      'get-token',
      '--cluster-name',
      expect.stringMatching(/aws_eks_cluster\..*\.name/),
      '--region',
      'us-east-1',
    ]);
    // Each role trusts its controller's ServiceAccount alone.
    const trustOf = (roleName: string) => {
      const role = one(s, 'aws_iam_role', roleName);
      const id = /data\.aws_iam_policy_document\.([^.]+)\.json/.exec(role.assume_role_policy)![1]!;
      return s.data!.aws_iam_policy_document![id].statement[0].condition[0].values;
    };
    expect(trustOf('nuclei-lab-cluster-autoscaler')).toEqual([
      'system:serviceaccount:kube-system:cluster-autoscaler',
    ]);
    expect(trustOf('nuclei-lab-lb-controller')).toEqual([
      'system:serviceaccount:kube-system:aws-load-balancer-controller',
    ]);
    expect(releases[0].values[0]).toContain('"eks.amazonaws.com/role-arn" = aws_iam_role.');
  });

  it('EKS: least IAM — the autoscaler resizes only this cluster’s groups; the LB controller changes only what it tagged', () => {
    const s = synth(eks);
    const policyOf = (name: string) =>
      JSON.parse(all(s, 'aws_iam_role_policy').find((p) => p.name === name).policy).Statement as {
        Action: string[];
        Resource: string | string[];
        Condition?: Record<string, Record<string, unknown>>;
      }[];
    const ca = policyOf('cluster-autoscaler');
    const writes = ca.find((st) => st.Action.includes('autoscaling:SetDesiredCapacity'))!;
    expect(writes.Condition).toEqual({
      StringEquals: { 'aws:ResourceTag/k8s.io/cluster-autoscaler/nuclei-lab': 'owned' },
    });
    expect(ca.flatMap((st) => st.Action).filter((a) => !/:(Describe|Get)/.test(a))).toEqual([
      'autoscaling:SetDesiredCapacity',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
    ]);
    const lbc = policyOf('lb-controller');
    const actions = lbc.flatMap((st) => st.Action);
    expect(actions.some((a) => /^(waf|wafv2|shield|cognito-idp):/.test(a))).toBe(false);
    for (const a of ['elasticloadbalancing:DeleteLoadBalancer', 'ec2:DeleteSecurityGroup']) {
      const st = lbc.find((x) => x.Action.includes(a))!;
      expect(st.Condition).toEqual({ Null: { 'aws:ResourceTag/elbv2.k8s.aws/cluster': 'false' } });
    }
    expect(lbc.find((x) => x.Action.includes('elasticloadbalancing:CreateLoadBalancer'))!.Condition).toEqual({
      Null: { 'aws:RequestTag/elbv2.k8s.aws/cluster': 'false' },
    });
    expect(actions).toContain('acm:ListCertificates'); // certificate discovery from the Ingress host
  });

  it('EKS: the GPU pool’s node-template tags reach its Auto Scaling group, so it scales from 0 for nvidia.com/gpu', () => {
    const s = synth(eks);
    const tags = all(s, 'aws_autoscaling_group_tag').filter((t) =>
      t.autoscaling_group_name.includes('gpu-pool'),
    );
    expect(Object.fromEntries(tags.map((t) => [t.tag.key, t.tag.value]))).toEqual({
      'k8s.io/cluster-autoscaler/node-template/label/kiosk.io/pool': 'gpu',
      'k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu': 'present:NoSchedule',
      'k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu': '1',
    });
    for (const t of tags) {
      expect(t.autoscaling_group_name).toMatch(/resources\[0\]\.autoscaling_groups\[0\]\.name\}$/);
    }
  });
});
