/**
 * `npm run test:deploy`: the deploy rehearsal. What a lab does with the project, on this machine with no
 * cloud: synthesize an EKS lab (`kiosk synth`), build the CPU and GPU images from docker/ (podman, offline),
 * and run the synthesized chart's workloads from those images (chart-to-podman.ts reads the manifests; the
 * Redis StatefulSet, API, CPU worker, GPU worker and autoscaler Deployments, with their securityContexts,
 * env, Secrets and volumes). The bucket is S3-compatible (s3rver) behind a proxy that enforces each role's
 * IAM policy as synthesized into the Terraform JSON (s3-bucket.ts); the autoscaler talks to a stand-in for
 * the Kubernetes API's `deployments/scale`, authorized by the chart's own Role (kube-api.ts).
 *
 * Then it drives the cluster as a lab would: the web UI loads in Chromium; a batch of val images goes in
 * through the API; the inference worker is killed mid-batch; every label TIFF is downloaded through its
 * signed URL and compared with `kiosk segment` on the same image; the viewer shows one result fetched
 * from the bucket; a short training makes a new model version that a job then uses; a bioimage.io package is
 * imported through the API (a CPU worker publishes it). It prints
 *   deploy rehearsal: N images, N results via signed URLs, training → <model> vK, import → <model> vK, web UI
 *   ok, 0 grant violations
 * and exits 1 on any failure, listing what failed. Options: --images N (default 20), --keep (leave the
 * containers running), KIOSK_DEPLOY_STATE (podman's state folder, default ~/.cache/cellkiosk-deploy).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import {
  foregroundPackage05,
  type PackageFiles,
  withRdf,
} from '../../workers/bioimageio/testing/third-party.js';
import { decodeTiff } from '../../workers/image/tiff-read.js';
import { packZip } from '../../workers/image/zip.js';
import { chartLookups, jobsOf, readManifests, workloadsOf } from './chart-to-podman.js';
import { startTlsFront, type TlsFront } from './tls-front.js';
import { RehearsalCluster } from './cluster.js';
import { readRolePolicies } from './iam-policy.js';
import { startKubeApi } from './kube-api.js';
import {
  buildBaseImage,
  buildKioskImages,
  buildRedisImage,
  CPU_IMAGE,
  GPU_IMAGE,
  podmanEnv,
  progress,
  repoRoot,
} from './podman.js';
import { roleKeyId, startRehearsalBucket } from './s3-bucket.js';

const run = promisify(execFile);
const { values: opts } = parseArgs({
  options: { images: { type: 'string', default: '20' }, keep: { type: 'boolean', default: false } },
});
const N = Number(opts.images);
if (!Number.isInteger(N) || N < 1) throw new Error(`--images must be a positive integer; got ${opts.images}`);

const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  if (!ok) failures.push(what);
  progress(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
};
const timings: Record<string, number> = {};
const t = () => performance.now();
const secs = (t0: number) => Math.round((performance.now() - t0) / 100) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 500,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
      );
    await sleep(everyMs);
  }
}

const tcpOpen = (host: string, port: number) =>
  new Promise<boolean>((res) => {
    const s = connect(port, host);
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });

const work = mkdtempSync(join(tmpdir(), 'cellkiosk-rehearsal-'));
const podman = podmanEnv();
const tAll = t();

// ---- 1. The lab's synth, as `npm run synth` writes it.
const labConfig = join(repoRoot, 'test/deploy/rehearsal-lab.json');
const lab = JSON.parse(readFileSync(labConfig, 'utf8')) as {
  name: string;
  bucket: string;
  region: string;
  gpu: { maxNodes: number; countPerNode: number };
  cpu: { maxNodes: number };
  images: { registry: string; tag: string };
  domain: string;
};
let t0 = t();
await run(
  process.execPath,
  [
    join(repoRoot, 'bin/kiosk.mjs'),
    'synth',
    '--config',
    labConfig,
    '--terraform-out',
    join(work, 'tf'),
    '--k8s-out',
    join(work, 'k8s'),
  ],
  { cwd: repoRoot },
);
const k8sDir = join(work, 'k8s');
const objects = readdirSync(k8sDir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => readManifests(readFileSync(join(k8sDir, f), 'utf8')));
const stackJson = join(work, 'tf/stacks/kiosk/cdk.tf.json');
const policies = readRolePolicies(stackJson, lab.name);
progress(
  `synth: ${objects.length} Kubernetes objects, IAM policies for ${policies.size} roles (${secs(t0)} s)`,
);

// ---- 2. Images, built offline from docker/ and tagged with the names the chart uses.
t0 = t();
await buildBaseImage(podman);
timings.base = secs(t0);
t0 = t();
const built = await buildKioskImages(podman);
timings.images = secs(t0);
const workloads = workloadsOf(objects);
for (const w of workloads) {
  const image = w.pod.containers[0]!.image;
  if (image.startsWith('redis:')) await buildRedisImage(podman, { image });
  else await podman.run(['tag', image.includes('-gpu:') ? GPU_IMAGE : CPU_IMAGE, image]);
}
progress(`images ready: ${JSON.stringify(built)} (${timings.images} s)`);

// ---- 3. Network, bucket, API server stand-in.
const network = `cellkiosk-rehearsal-${process.pid}`;
await podman.run(['network', 'create', network]);
// Interrupted (Ctrl-C, CI timeout): remove this run's containers and network before exiting.
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    progress(`${sig}: removing this run's containers and network`);
    void podman
      .run(['ps', '-aq', '--filter', `network=${network}`])
      .then((ids) => (ids.trim() ? podman.run(['rm', '-f', '-t', '2', ...ids.trim().split('\n')]) : ''))
      .then(() => podman.run(['network', 'rm', '-f', network]))
      .then(() => podman.run(['volume', 'ls', '-q']))
      .then((vols) => {
        const mine = vols.split('\n').filter((v) => v.endsWith(network));
        return mine.length ? podman.run(['volume', 'rm', '-f', ...mine]) : '';
      })
      .catch(() => undefined)
      .finally(() => process.exit(130));
  });
const gateway = (
  await podman.run(['network', 'inspect', network, '--format', '{{range .Subnets}}{{.Gateway}}{{end}}'])
).trim();
const tf = JSON.parse(readFileSync(stackJson, 'utf8')) as {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
};
const corsRules = Object.values(tf.resource?.aws_s3_bucket_cors_configuration ?? {}).flatMap(
  (c) =>
    (c.cors_rule as {
      allowed_origins: string[];
      allowed_methods: string[];
      allowed_headers?: string[];
      expose_headers?: string[];
      max_age_seconds?: number;
    }[]) ?? [],
);
const corsXml = corsRules.length
  ? `<CORSConfiguration>${corsRules
      .map(
        (r) =>
          `<CORSRule>${r.allowed_origins.map((o) => `<AllowedOrigin>${o}</AllowedOrigin>`).join('')}${r.allowed_methods
            .map((m) => `<AllowedMethod>${m}</AllowedMethod>`)
            .join(
              '',
            )}${(r.allowed_headers ?? []).map((h) => `<AllowedHeader>${h}</AllowedHeader>`).join('')}${(
            r.expose_headers ?? []
          )
            .map((h) => `<ExposeHeader>${h}</ExposeHeader>`)
            .join(
              '',
            )}${r.max_age_seconds ? `<MaxAgeSeconds>${r.max_age_seconds}</MaxAgeSeconds>` : ''}</CORSRule>`,
      )
      .join('')}</CORSConfiguration>`
  : undefined;
const bucket = await startRehearsalBucket({
  bucket: lab.bucket,
  policies,
  host: gateway,
  directory: join(work, 's3'),
  ...(corsXml ? { corsXml } : {}),
});
progress(`bucket s3://${lab.bucket} at ${bucket.endpoint} (CORS rules from the stack: ${corsRules.length})`);

const namespace = objects.find((o) => o.kind === 'Namespace')?.metadata.name ?? 'default';
const replicas = new Map<string, number>();
const kube = await startKubeApi({
  host: gateway,
  dir: join(work, 'kube'),
  objects,
  namespace,
  replicas,
  onScale: (name, n) => {
    progress(`autoscaler: ${name} → ${n} replicas`);
    cluster.setReplicas(name, n); // the autoscaler runs only once the cluster exists
  },
});

// The operator's Secret (docs/deploy.md: kubectl create secret generic kiosk-redis --from-literal=password=...).
const redisPassword = randomBytes(18).toString('base64url');
const lookups = chartLookups(objects, { 'kiosk-redis': { password: redisPassword } });
const gpuCount = lab.gpu.maxNodes * lab.gpu.countPerNode;
const M6I_XLARGE_VCPUS = 4;
const cluster = new RehearsalCluster({
  podman,
  network,
  objects,
  workloads: workloads.filter(
    // Not the kiosk's own pods: the NVIDIA device plugin, and the Prometheus that scrapes /metrics (its image
    // is not built here; the scrape objects are checked by the chart's tests).
    (w) =>
      w.pod.containers[0]!.image !== undefined &&
      !w.name.startsWith('nvidia') &&
      w.labels['app.kubernetes.io/component'] !== 'prometheus',
  ),
  lookups,
  dir: work,
  capacity: {
    cpu: { cpu: lab.cpu.maxNodes * M6I_XLARGE_VCPUS, gpu: gpuCount * 8 },
    gpus: { cpu: 0, gpu: gpuCount },
  },
  // Stand-in for IRSA: each ServiceAccount's pods sign with their role's own key id; the SDK reaches the
  // bucket at the proxy (path-style, as for any IP endpoint). s3rver cannot read aws-chunked uploads, so
  // checksums are sent only where required (real S3 takes either).
  injectedEnv: (sa) => ({
    AWS_ACCESS_KEY_ID: sa?.startsWith('kiosk-') ? roleKeyId(sa.slice(6) as never) : 'anonymous',
    AWS_SECRET_ACCESS_KEY: 'rehearsal-secret',
    AWS_ENDPOINT_URL_S3: bucket.endpoint,
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
  }),
  serviceAccountDir: (sa) => kube.serviceAccountDir(sa),
  kubernetesService: { host: gateway, port: kube.port },
});
for (const [name, n] of cluster.desired) replicas.set(name, n);

let browser: import('playwright-core').Browser | undefined;
let front: TlsFront | undefined;
let trainedModel = '';
let importedModel = '';
let resultsViaSignedUrls = 0;
let webUiOk = false;
try {
  // ---- 4. The chart's pods.
  t0 = t();
  cluster.start();
  const redisPod = await waitFor('the Redis pod', async () => cluster.pods('kiosk-redis')[0], 60_000);
  await waitFor(
    'Redis to accept connections',
    async () => ((await tcpOpen(redisPod.ip, 6379)) ? true : undefined),
    60_000,
  );
  const apiPods = await waitFor(
    'both API pods to be ready',
    async () => {
      const pods = cluster.pods('kiosk-api');
      if (pods.length < (cluster.desired.get('kiosk-api') ?? 1)) return undefined;
      for (const p of pods) {
        const r = await fetch(`http://${p.ip}:8080/api/health-check`).catch(() => undefined);
        if (r?.status !== 200) return undefined;
      }
      return pods;
    },
    180_000,
    1000,
  );
  timings.podsReady = secs(t0);
  progress(
    `API ready on ${apiPods.map((p) => p.ip).join(', ')} (${timings.podsReady} s after the first pod)`,
  );
  const api = `http://${apiPods[0]!.ip}:8080`;

  // Read-only root, uid 1000 (Redis 999), for every pod.
  for (const pod of cluster.pods()) {
    const [ro, user] = (
      await podman.run(['inspect', pod.name, '--format', '{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}'])
    )
      .trim()
      .split(' ');
    const want = pod.workload === 'kiosk-redis' ? '999:999' : '1000:1000';
    check(ro === 'true' && user === want, `${pod.name} runs read-only as ${user} (want ${want})`);
  }
  const touch = await podman.run(['exec', apiPods[0]!.name, 'sh', '-c', 'touch /app/x 2>&1 || true; id -u']);
  check(
    /Read-only file system/.test(touch) && touch.trim().endsWith('1000'),
    `writing under /app fails in the API pod (${touch.trim().replace(/\n/g, ' | ')})`,
  );

  // ---- 5. A lab token, made the way docs/deploy.md says (exec into an API pod).
  const token = (
    await podman.run([
      'exec',
      apiPods[0]!.name,
      'node',
      'bin/kiosk.mjs',
      'token',
      'create',
      '--lab',
      'rehearsal-lab',
      '--name',
      'rehearsal',
    ])
  )
    .trim()
    .split('\n')
    .pop()!;
  const auth = { authorization: `Bearer ${token}` };
  const { models } = (await (await fetch(`${api}/v1/models`, { headers: auth })).json()) as {
    models: { name: string; version: string }[];
  };
  check(
    models.some((m) => m.name === 'nuclear'),
    `GET /v1/models lists the shipped model (${JSON.stringify(models.map((m) => `${m.name}@${m.version}`))})`,
  );

  // ---- 6. The web UI, in Chromium, from the API pod.
  // Opened at https://<domain>, as the lab's users do: the bucket admits that origin alone (issue 20 #1).
  // tls-front.ts stands in for the load balancer, which terminates TLS and passes requests to an API pod over
  // HTTP. The bucket (plain HTTP here, HTTPS on S3) is marked a secure origin, and the page may reach its
  // private address, as the real bucket's address is public.
  const { CHROMIUM } = await import('../../web/e2e/browser.js');
  const { chromium } = await import('playwright-core');
  front = await startTlsFront({ domain: lab.domain, target: () => api, dir: work });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      `--unsafely-treat-insecure-origin-as-secure=${bucket.endpoint}`,
      '--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults',
      ...front.chromiumArgs,
    ],
  });
  const page = await browser.newPage();
  const site = `https://${lab.domain}`;
  const consoleErrors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  const bucketRequests: string[] = [];
  page.on('request', (r) => r.url().startsWith(bucket.endpoint) && bucketRequests.push(r.url()));
  await page.goto(`${site}/#/segment`);
  await page.waitForSelector('#token-form', { timeout: 30_000 });
  await page.fill('#token-input', token);
  await Promise.all([page.waitForEvent('load'), page.click('#token-form button[type=submit]')]);
  await waitFor(
    'the model list in the web UI',
    async () => ((await page.locator('#model option').count()) > 0 ? true : undefined),
    30_000,
  );
  webUiOk = true;

  // ---- 7. The batch.
  const valDir = join(repoRoot, '../shared/data/nuclei/val');
  const images = readdirSync(valDir)
    .filter((f) => f.endsWith('.image.png'))
    .sort()
    .slice(0, N)
    .map((f) => join(valDir, f));
  check(images.length === N, `${N} val images found (${images.length})`);
  t0 = t();
  const jobs: { id: string; image: string }[] = [];
  for (const image of images) {
    const form = new FormData();
    form.append('file', new Blob([readFileSync(image)], { type: 'image/png' }), basename(image));
    const r = await fetch(`${api}/v1/jobs/upload`, { method: 'POST', headers: auth, body: form });
    if (r.status !== 201 && r.status !== 200)
      throw new Error(`POST /v1/jobs/upload ${basename(image)}: ${r.status} ${await r.text()}`);
    jobs.push({ id: ((await r.json()) as { id: string }).id, image });
  }
  progress(`${jobs.length} jobs submitted (${secs(t0)} s)`);
  type Job = {
    id: string;
    status: string;
    labelsUrl?: string;
    reason?: string;
    model?: string;
    modelVersion?: string;
  };
  const jobState = async (id: string) =>
    (await (await fetch(`${api}/v1/jobs/${id}`, { headers: auth })).json()) as Job;
  let firstDone = 0;
  let killed = '';
  const done = await waitFor(
    'every job of the batch to finish',
    async () => {
      const states = await Promise.all(jobs.map((j) => jobState(j.id)));
      const finished = states.filter((s) => s.status === 'done' || s.status === 'failed');
      if (finished.length && !firstDone) {
        firstDone = secs(t0);
        progress(`first job done ${firstDone} s after submission`);
      }
      // Kill the inference worker mid-batch: some done, some still to go.
      const gpuPod = cluster.pods('kiosk-gpu-worker')[0];
      if (!killed && gpuPod && finished.length >= 2 && finished.length < jobs.length - 3) {
        killed = gpuPod.name;
        progress(`killing ${gpuPod.name} (SIGKILL) with ${jobs.length - finished.length} jobs to go`);
        await podman.run(['kill', '--signal', 'KILL', gpuPod.name]);
      }
      return finished.length === jobs.length ? states : undefined;
    },
    600_000,
    1000,
  );
  timings.batch = secs(t0);
  timings.firstJob = firstDone;
  const failed = done.filter((s) => s.status !== 'done');
  check(
    failed.length === 0,
    `all ${jobs.length} jobs done (failed: ${failed.map((f) => `${f.id}: ${f.reason}`).join('; ') || 'none'})`,
  );
  check(
    killed !== '',
    `the inference worker was killed mid-batch (${killed || 'never: too few jobs in flight'})`,
  );

  // ---- 8. Results through signed URLs, compared with `kiosk segment` on the same images.
  const segOut = join(work, 'segment');
  mkdirSync(segOut);
  await run(process.execPath, [join(repoRoot, 'bin/kiosk.mjs'), 'segment', ...images, '--out', segOut], {
    cwd: repoRoot,
    maxBuffer: 1 << 26,
  });
  const segFiles = readdirSync(segOut);
  let equal = 0;
  for (const [i, s] of done.entries()) {
    if (!s.labelsUrl?.startsWith(bucket.endpoint)) {
      check(false, `job ${s.id}: labelsUrl ${s.labelsUrl} is not a signed bucket URL`);
      continue;
    }
    const r = await fetch(s.labelsUrl);
    if (r.status !== 200) {
      check(false, `GET ${s.labelsUrl}: ${r.status}`);
      continue;
    }
    resultsViaSignedUrls++;
    const stem = basename(jobs[i]!.image).replace(/\.image\.png$/, '');
    const local = segFiles.find((f) => f.startsWith(`${stem}.`) && f.endsWith('.tif'));
    if (!local) {
      check(false, `kiosk segment wrote no labels for ${stem} (${segFiles.slice(0, 3).join(', ')} ...)`);
      continue;
    }
    const a = decodeTiff(new Uint8Array(await r.arrayBuffer()));
    const b = decodeTiff(readFileSync(join(segOut, local)));
    const same =
      a.shape.join('x') === b.shape.join('x') &&
      a.data.length === b.data.length &&
      a.data.every((v, k) => v === b.data[k]);
    if (same) equal++;
    else
      progress(`labels differ for ${stem}: cluster ${a.shape.join('x')}, kiosk segment ${b.shape.join('x')}`);
  }
  check(equal === jobs.length, `${equal}/${jobs.length} label TIFFs from signed URLs equal kiosk segment's`);

  // ---- 9. The viewer shows one result, its labels fetched from the bucket.
  await page.goto(`${site}/#/viewer/${jobs[0]!.id}`);
  const viewerOk = await page
    .waitForSelector('[data-testid=viewer-canvas][data-ready="1"]', { timeout: 30_000 })
    .then(
      () => true,
      () => false,
    );
  await page.screenshot({ path: join(work, 'viewer.png') });
  check(
    viewerOk && bucketRequests.length > 0,
    `the viewer drew job ${jobs[0]!.id} with labels from the bucket (${bucketRequests.length} bucket requests; console errors: ${consoleErrors.join(' | ') || 'none'})`,
  );
  const cspErrors = consoleErrors.filter((e) =>
    /Content Security Policy|Refused to (connect|load)|CORS/.test(e),
  );
  check(cspErrors.length === 0, `no CSP or CORS errors in the page (${cspErrors.join(' | ') || 'none'})`);
  webUiOk &&= viewerOk;

  // ---- 10. A short training → a new model version → a job that uses it.
  t0 = t();
  const trainDir = join(repoRoot, '../shared/data/nuclei/train');
  const trainPairs = readdirSync(trainDir)
    .filter((f) => f.endsWith('.image.png'))
    .sort()
    .slice(0, 6);
  const form = new FormData();
  const addPair = (dir: string, folder: string, imageFile: string) => {
    for (const f of [imageFile, imageFile.replace('.image.', '.labels.')])
      form.append('file', new Blob([readFileSync(join(dir, f))], { type: 'image/png' }), `${folder}/${f}`);
  };
  for (const f of trainPairs) addPair(trainDir, 'train', f);
  for (const f of readdirSync(valDir)
    .filter((x) => x.endsWith('.image.png'))
    .sort()
    .slice(-2))
    addPair(valDir, 'val', f);
  for (const [k, v] of Object.entries({ epochs: '1', stepsPerEpoch: '4', batchSize: '4', cropSize: '64' }))
    form.append(k, v);
  const tr = await fetch(`${api}/v1/trainings/upload`, { method: 'POST', headers: auth, body: form });
  if (tr.status !== 201 && tr.status !== 200)
    throw new Error(`POST /v1/trainings/upload: ${tr.status} ${await tr.text()}`);
  const training = (await tr.json()) as { id: string };
  type Training = { status: string; reason?: string; model?: { name: string; version: string } };
  const trained = await waitFor(
    'the training job',
    async () => {
      const s = (await (
        await fetch(`${api}/v1/trainings/${training.id}`, { headers: auth })
      ).json()) as Training;
      return s.status === 'done' || s.status === 'failed' ? s : undefined;
    },
    480_000,
    2000,
  );
  timings.training = secs(t0);
  check(
    trained.status === 'done' && trained.model !== undefined,
    `training ${training.id} ${trained.status} ${trained.reason ?? ''} (${timings.training} s)`,
  );
  if (trained.model) {
    trainedModel = `${trained.model.name} v${trained.model.version}`;
    const f = new FormData();
    f.append('file', new Blob([readFileSync(images[0]!)], { type: 'image/png' }), basename(images[0]!));
    f.append('model', trained.model.name);
    f.append('modelVersion', String(trained.model.version));
    const r = await fetch(`${api}/v1/jobs/upload`, { method: 'POST', headers: auth, body: f });
    const j = (await r.json()) as Job;
    if (r.status >= 300) throw new Error(`a job with the trained model: ${r.status} ${JSON.stringify(j)}`);
    const end = await waitFor(
      'the job with the trained model',
      async () => {
        const s = await jobState(j.id);
        return s.status === 'done' || s.status === 'failed' ? s : undefined;
      },
      180_000,
      1000,
    );
    check(
      end.status === 'done' && String(end.modelVersion) === String(trained.model.version),
      `a job ran on ${trainedModel}: ${end.status}, model ${end.model}@${end.modelVersion} ${end.reason ?? ''}`,
    );
  }

  // ---- 10a. A bioimage.io package imported through the API (issue 21): the API, which may only read models/,
  // stages it; a CPU worker (woken by the autoscaler on the models queue if it was scaled to zero) checks it,
  // runs its test and publishes it. The bucket proxy's IAM check covers both roles' calls (step 11).
  t0 = t();
  const pkg = (files: PackageFiles) =>
    new Blob([new Uint8Array(packZip([...files].map(([name, data]) => ({ name, data }))))]);
  const importPackage = (files: PackageFiles, name: string) => {
    const f = new FormData();
    f.append('name', name);
    f.append('package', pkg(files), `${name}.zip`);
    return fetch(`${api}/v1/models/import`, { method: 'POST', headers: auth, body: f });
  };
  const { files: fgFiles } = foregroundPackage05();
  const imp = await importPackage(fgFiles, 'fg-deploy');
  const impBody = (await imp.json()) as { name?: string; version?: string; message?: string };
  timings.modelImport = secs(t0);
  check(
    imp.status === 201 && impBody.name === 'fg-deploy',
    `POST /v1/models/import: ${imp.status} ${impBody.name ?? ''} v${impBody.version ?? '?'} ${impBody.message ?? ''} (${timings.modelImport} s)`,
  );
  if (imp.status === 201) {
    importedModel = `${impBody.name} v${impBody.version}`;
    const listed = (await (await fetch(`${api}/v1/models`, { headers: auth })).json()) as {
      models: { name: string; version: string }[];
    };
    check(
      listed.models.some((m) => m.name === 'fg-deploy' && m.version === impBody.version),
      `GET /v1/models lists the imported ${importedModel}`,
    );
  }
  const broken = withRdf(fgFiles, (r) => (r.weights = { torchscript: { source: 'm.pt' } }));
  const refused = await importPackage(broken, 'fg-broken');
  const refusedBody = (await refused.json()) as { error?: string; message?: string };
  check(
    refused.status === 400 &&
      refusedBody.error === 'bad-model-package' &&
      /unsupported weight format/.test(refusedBody.message ?? ''),
    `a package without ONNX weights is refused with its reason: ${refused.status} ${refusedBody.message ?? ''}`,
  );

  // ---- 10b. The training Job (suspended in the chart; a lab unsuspends it for a dedicated trainer) starts
  // from the GPU image and waits for work.
  const trainJob = jobsOf(objects).find((j) => j.pod.containers[0]!.args?.includes('--role=trainer'));
  if (!trainJob) check(false, 'the chart has a training Job');
  else {
    const pod = await cluster.runJob(trainJob);
    const ready = await waitFor(
      `${pod} to be ready`,
      async () => ((await podman.run(['logs', pod])).includes('worker train ready') ? true : undefined),
      90_000,
      1000,
    ).catch(() => false);
    await sleep(5000);
    const state = (
      await podman.run([
        'inspect',
        pod,
        '--format',
        '{{.State.Status}} {{.HostConfig.ReadonlyRootfs}} {{.Config.User}}',
      ])
    ).trim();
    check(
      ready && state === 'running true 1000:1000',
      `the training Job's pod ${pod} is up, read-only, uid 1000 (${state})`,
    );
    await cluster.stop(pod);
  }

  // ---- 11. Every role stayed up (only the killed pod was replaced), and nothing was out of its grants.
  for (const [w, exits] of cluster.unexpectedExits) {
    const expected = w === 'kiosk-gpu-worker' && exits.length === 1 && exits[0]!.startsWith(killed);
    check(expected, `${w}: pods that exited on their own: ${exits.join(', ')}`);
  }
  for (const w of ['kiosk-redis', 'kiosk-api', 'kiosk-autoscaler'])
    check(cluster.pods(w).length > 0, `${w} is running at the end`);
  check(kube.denied.length === 0, `Kubernetes API calls denied: ${kube.denied.join('; ') || 'none'}`);
  check(
    kube.calls.some((c) => c.startsWith('PATCH')),
    `the autoscaler scaled through the API (${kube.calls.filter((c) => c.startsWith('PATCH')).length} patches)`,
  );
} catch (err) {
  failures.push(`stopped: ${(err as Error).stack ?? String(err)}`);
} finally {
  // Every clean-up step is bounded: a CI run once hung here after the pods had stopped (which step was not
  // known), and a stuck clean-up must not hold the verdict the checks above already reached.
  const bounded = async (what: string, step: () => Promise<unknown> | undefined, ms = 20_000) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ms)));
    const done = await Promise.race([
      Promise.resolve(step()).then(
        () => 'done' as const,
        () => 'done' as const,
      ),
      late,
    ]);
    clearTimeout(timer);
    if (done === 'late') progress(`clean-up: ${what} did not finish within ${ms / 1000} s; going on`);
  };
  await bounded('closing the browser', () => browser?.close());
  await bounded('closing the TLS front', () => front?.close());
  for (const pod of cluster.pods() ?? []) {
    const logs = await podman.run(['logs', '--tail', '15', pod.name]).catch((e: unknown) => String(e));
    if (failures.length) process.stderr.write(`--- ${pod.name} (last lines)\n${logs}`);
  }
  if (!opts.keep) {
    await bounded(
      'stopping the pods',
      () => cluster?.shutdown(['kiosk-autoscaler', 'kiosk-api', 'kiosk-cpu-worker', 'kiosk-gpu-worker']),
      180_000,
    );
    await bounded('removing the network', () => podman.run(['network', 'rm', '-f', network]), 60_000);
    await bounded('closing the Kubernetes API stand-in', () => kube.close());
    await bounded('closing the bucket', () => bucket.close());
  }
}

const v = bucket.violations;
if (v.length) for (const x of v) failures.push(`grant violation: ${x.role} ${x.request}: ${x.reason}`);
const byRole = new Map<string, number>();
for (const r of bucket.requests) byRole.set(r.role, (byRole.get(r.role) ?? 0) + 1);
progress(`bucket requests by role: ${JSON.stringify(Object.fromEntries(byRole))}`);
progress(`timings (s): ${JSON.stringify({ ...timings, total: secs(tAll) })}`);
if (!opts.keep) rmSync(work, { recursive: true, force: true });
else progress(`kept: ${work}, network ${network}`);
console.log(
  `deploy rehearsal: ${N} images, ${resultsViaSignedUrls} results via signed URLs, training → ${trainedModel || 'none'}, import → ${importedModel || 'none'}, web UI ${webUiOk ? 'ok' : 'FAILED'}, ${v.length} grant violations`,
);
if (failures.length) {
  console.error(`\n${failures.length} failure(s):\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
process.exit(0);
