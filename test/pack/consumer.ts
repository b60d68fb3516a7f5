// The two fresh lab projects the pack test builds from the packed @cellkiosk/constructs: what a lab would write
// in its own repository, once as the standard cdktf TypeScript project (CommonJS) and once as an ES module one.

export type ModuleKind = 'cjs' | 'esm';

/** The peers the package declares, installed by the lab beside it (the test links the repository's copies). */
export const PEERS = [
  '@cdktf/provider-aws',
  '@cdktf/provider-google',
  'cdk8s',
  'cdk8s-plus-34',
  'cdktf',
  'constructs',
] as const;

export const LAB = {
  project: 'lab-imaging',
  name: 'lab1',
  region: 'europe-west4',
  zone: 'europe-west4-a',
  bucket: 'lab-imaging-kiosk',
  topic: 'segmentations-done',
} as const;

/** package.json of the fresh project: no "type" (CommonJS, as `cdktf init --template=typescript` makes) or module. */
export function packageJson(kind: ModuleKind): string {
  return `${JSON.stringify({ name: `lab-${kind}`, version: '0.0.0', private: true, ...(kind === 'esm' ? { type: 'module' } : {}) }, null, 2)}\n`;
}

/**
 * tsconfig.json. CommonJS: the compiler options of cdktf's TypeScript template (module CommonJS, so the
 * package resolves through "main"/"types", as under ts-node). ESM: NodeNext, so it resolves through the
 * "exports" map's "import" condition.
 */
export function tsconfig(kind: ModuleKind): string {
  const compilerOptions =
    kind === 'cjs'
      ? {
          alwaysStrict: true,
          declaration: true,
          experimentalDecorators: true,
          inlineSourceMap: true,
          inlineSources: true,
          lib: ['es2018'],
          module: 'CommonJS',
          noEmitOnError: true,
          noFallthroughCasesInSwitch: true,
          noImplicitAny: true,
          noImplicitReturns: true,
          noImplicitThis: true,
          noUnusedLocals: true,
          noUnusedParameters: true,
          resolveJsonModule: true,
          strict: true,
          strictNullChecks: true,
          strictPropertyInitialization: true,
          stripInternal: true,
          target: 'ES2018',
          skipLibCheck: true,
          types: ['node'],
        }
      : {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmitOnError: true,
          skipLibCheck: true,
          types: ['node'],
        };
  return `${JSON.stringify({ compilerOptions, include: ['main.ts'] }, null, 2)}\n`;
}

/**
 * main.ts: a Terraform stack with the kiosk's GKE cluster plus the lab's own node pool on it and a Pub/Sub
 * topic; a cdk8s app with the kiosk chart plus the lab's own ConfigMap. Both apps synthesize into the project
 * folder (cdktf.out/, k8s/). Prints where the package resolved from and whether the constructs it made are
 * the lab's own `constructs`/`cdk8s` classes (one copy of each: the peers).
 */
export function mainTs(kind: ModuleKind): string {
  // Provider modules are deep paths; NodeNext wants the file, CommonJS projects usually write the folder.
  const lib = (path: string) => (kind === 'esm' ? `${path}/index.js` : path);
  const resolved =
    kind === 'esm'
      ? `import.meta.resolve('@cellkiosk/constructs')`
      : `require.resolve('@cellkiosk/constructs')`;
  return `import { GoogleProvider } from '${lib('@cdktf/provider-google/lib/provider')}';
import { PubsubTopic } from '${lib('@cdktf/provider-google/lib/pubsub-topic')}';
import { App as K8sApp, Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-34';
import { App, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { GkeNodePool, GpuType, KioskChart, KioskCluster } from '@cellkiosk/constructs';

class LabStack extends TerraformStack {
  readonly kiosk: KioskCluster;
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new GoogleProvider(this, 'google', { project: '${LAB.project}', region: '${LAB.region}' });
    this.kiosk = new KioskCluster(this, 'kiosk', {
      provider: 'gke',
      project: '${LAB.project}',
      name: '${LAB.name}',
      region: '${LAB.region}',
      zones: ['${LAB.zone}'],
      gpuPool: { gpu: { type: GpuType.nvidiaL4(), count: 1 }, maxNodes: 2 },
      bucket: { bucketName: '${LAB.bucket}' },
    });
    // The lab's own resources beside the kiosk: a pool on the kiosk's cluster and a topic.
    new GkeNodePool(this, 'lab-pool', { cluster: this.kiosk.gke!.cluster, name: 'lab', maxNodes: 1 });
    new PubsubTopic(this, 'done', { project: '${LAB.project}', name: '${LAB.topic}' });
  }
}

const app = new App({ outdir: 'cdktf.out' });
const stack = new LabStack(app, 'lab');
app.synth();

const k8sApp = new K8sApp({ outdir: 'k8s' });
const chart = new KioskChart(k8sApp, 'kiosk', {
  identity: { provider: 'gke', project: '${LAB.project}', name: '${LAB.name}' },
  bucketName: '${LAB.bucket}',
  region: '${LAB.region}',
  images: {
    api: 'europe-docker.pkg.dev/${LAB.project}/kiosk/cpu:1',
    cpuWorker: 'europe-docker.pkg.dev/${LAB.project}/kiosk/cpu:1',
    gpuWorker: 'europe-docker.pkg.dev/${LAB.project}/kiosk/gpu:1',
    autoscaler: 'europe-docker.pkg.dev/${LAB.project}/kiosk/cpu:1',
  },
});
// The chart's intent methods from the compiled package: a sidecar on the API and a policy through the default deny.
chart.addSidecar(chart.api, { name: 'lab-shipper', image: 'busybox:1.36', args: ['sleep', 'infinity'] });
chart.allowFrom(chart.api, { namespaceLabels: { 'kubernetes.io/metadata.name': 'lab-monitoring' } }, {
  ports: [8080],
  name: 'lab-allow-monitoring',
});
new k8s.KubeConfigMap(chart, 'lab-settings', {
  metadata: { name: 'lab-settings', namespace: chart.namespaceName },
  data: { topic: '${LAB.topic}' },
});
k8sApp.synth();

console.log(
  JSON.stringify({
    resolved: ${resolved},
    clusterIsLabConstruct: stack.kiosk instanceof Construct,
    chartIsLabChart: Chart.isChart(chart) && chart instanceof Chart,
  }),
);
`;
}
