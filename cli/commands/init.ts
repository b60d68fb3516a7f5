import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createInterface, type Interface } from 'node:readline';
import { parseArgs } from 'node:util';
import { GpuType, type CloudProvider } from '../../constructs/gpu-type.js';
import { bucketNameProblem, domainProblem } from '../../constructs/validation.js';
import { parseLabConfig } from '../../infra/lab-config.js';
import { UsageError, type Command } from '../command.js';

const usage = `Usage: kiosk init [options]

Asks how your lab's cloud deployment should look (a numbered menu) and writes the lab config that
\`npm run synth\` turns into Terraform JSON and Kubernetes YAML. Every question is also a flag; with all
flags given (or --yes for the defaults) it asks nothing. When stdin is not a terminal, a missing flag is
an error unless --interactive is given (then answers are read line by line from stdin).

Options:
  --name NAME            lab name, prefix of every cloud resource (default cellkiosk)
  --provider gke|eks     Google Kubernetes Engine or Amazon EKS
  --project ID           GCP project id (gke) or 12-digit AWS account id (eks); --account is an alias
  --region REGION        e.g. us-central1 (gke), us-east-1 (eks)
  --zones Z1,Z2          node zones (gke: one zone = zonal cluster; eks: 2..3 zones)
  --gpu-type TYPE        gke: ${GpuType.choices('gke').join(', ')}
                         eks: ${GpuType.choices('eks').join(', ')}
  --gpus-per-node N      GPUs per GPU node (default 1)
  --min-gpu-nodes N      fewest GPU nodes (default 0: no GPU cost while idle)
  --max-gpu-nodes N      most GPU nodes (default 2)
  --cpu-nodes N          most CPU nodes (default 3; at least 1 runs)
  --bucket NAME          bucket for uploads, results and models (GCS/S3 naming rules)
  --registry HOST/PATH   container registry (default: an Artifact Registry repository / ECR repositories
                         in your project/account and region, which the stack creates)
  --domain HOST          host name of the web UI, e.g. kiosk.example.org: the cluster serves HTTPS on it
                         (GKE: Google-managed certificate; EKS: ACM certificate) and redirects HTTP
  --insecure-http        no domain and no TLS: the Ingress answers any host name over plain HTTP, the
                         bucket admits any origin for GET, and the lab's API tokens (the cluster runs
                         with KIOSK_AUTH=tokens) cross the network in clear text. Without this flag init
                         refuses to write a config that has no domain
  --out PATH             where to write (default kiosk.config.json)
  --force                overwrite an existing file
  --yes                  take the default for every question not given as a flag
  --interactive          ask even when stdin is not a terminal`;

/** What init says when the lab gives no domain and no --insecure-http. */
const NO_DOMAIN =
  'a domain is needed for TLS. Without one the Ingress serves plain HTTP on any host name, and the ' +
  "lab's API tokens (the cluster runs with KIOSK_AUTH=tokens) would cross the network in clear text. " +
  'Give --domain (HTTPS with a certificate issued for it), or --insecure-http to serve HTTP knowingly';

const REGIONS: Record<CloudProvider, string[]> = {
  gke: [
    'us-central1',
    'us-east1',
    'us-west1',
    'europe-west1',
    'europe-west4',
    'asia-east1',
    'asia-northeast1',
  ],
  eks: [
    'us-east-1',
    'us-east-2',
    'us-west-2',
    'eu-west-1',
    'eu-central-1',
    'ap-northeast-1',
    'ap-southeast-1',
  ],
};
/** A GKE zone in each listed region that sells T4 and L4 GPUs (zonal cluster = one control-plane replica). */
const GKE_GPU_ZONE: Record<string, string> = {
  'us-central1': 'us-central1-a',
  'us-east1': 'us-east1-c',
  'us-west1': 'us-west1-b',
  'europe-west1': 'europe-west1-b',
  'europe-west4': 'europe-west4-a',
  'asia-east1': 'asia-east1-a',
  'asia-northeast1': 'asia-northeast1-a',
};

/** Lines from stdin, queued so answers piped in all at once are not lost between questions. */
class LineReader {
  private readonly lines: string[] = [];
  private waiting: ((line: string | undefined) => void) | undefined;
  private closed = false;
  private readonly rl: Interface;

  constructor() {
    this.rl = createInterface({ input: process.stdin, terminal: false });
    this.rl.on('line', (line) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(line);
      } else this.lines.push(line);
    });
    this.rl.on('close', () => {
      this.closed = true;
      this.waiting?.(undefined);
    });
  }
  next(): Promise<string | undefined> {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiting = resolve));
  }
  close(): void {
    this.rl.close();
  }
}

interface Question {
  /** Flag that answers it, without `--`. */
  readonly flag: string;
  readonly prompt: string;
  /** Numbered choices; the answer may be the number or the text. */
  readonly choices?: readonly string[];
  readonly fallback?: string;
  /**
   * The question may be left unanswered (an empty answer, no flag even when stdin is not a terminal, or
   * --yes): the answer is then ''. The text says what happens without an answer.
   */
  readonly optional?: string;
  /** Why an answer is unacceptable, or undefined. */
  readonly check?: (answer: string) => string | undefined;
  /** Why an empty or missing answer is unacceptable. @default 'is empty' */
  readonly whenMissing?: string;
}

const count = (min: number) => (a: string) =>
  /^\d+$/.test(a) && Number(a) >= min ? undefined : `must be a whole number >= ${min}`;

type Flags = Record<string, string | boolean | undefined>;

class Asker {
  private reader: LineReader | undefined;
  constructor(
    private readonly flags: Flags,
    private readonly interactive: boolean,
    private readonly takeDefaults: boolean,
  ) {}

  /** The answer from the flag, else the default (--yes), else the terminal; re-asks until `check` passes. */
  async ask(q: Question): Promise<string> {
    const given = this.flags[q.flag];
    if (typeof given === 'string') {
      const problem = this.problem(q, given);
      if (problem) throw new UsageError(`--${q.flag} '${given}' ${problem}`);
      return this.resolveChoice(q, given);
    }
    if (this.takeDefaults && q.fallback !== undefined) return q.fallback;
    if (q.optional !== undefined && (this.takeDefaults || !this.interactive)) return '';
    if (!this.interactive && q.whenMissing !== undefined)
      throw new UsageError(`no --${q.flag}: ${q.whenMissing}`);
    if (!this.interactive) {
      throw new UsageError(
        `missing --${q.flag} ("${q.prompt}"): stdin is not a terminal, so every answer must be a flag` +
          (q.fallback !== undefined ? ' (or pass --yes to take the defaults)' : ''),
      );
    }
    this.reader ??= new LineReader();
    for (;;) {
      if (q.choices) {
        process.stdout.write(`\n${q.prompt}:\n`);
        q.choices.forEach((c, i) => process.stdout.write(`  ${i + 1}) ${c}\n`));
        process.stdout.write(`Choose 1-${q.choices.length}${q.fallback ? ` [${q.fallback}]` : ''}: `);
      } else if (q.optional !== undefined) {
        process.stdout.write(`${q.prompt} (optional; ${q.optional}) [none]: `);
      } else {
        process.stdout.write(`${q.prompt}${q.fallback !== undefined ? ` [${q.fallback}]` : ''}: `);
      }
      const line = await this.reader.next();
      if (line === undefined)
        throw new UsageError(`stdin ended before --${q.flag} (${q.prompt}) was answered`);
      const answer = line.trim() || q.fallback || '';
      if (answer === '' && q.optional !== undefined) return '';
      const problem = this.problem(q, answer);
      if (!problem) return this.resolveChoice(q, answer);
      process.stdout.write(`  '${answer}' ${problem}; try again.\n`);
    }
  }

  private problem(q: Question, answer: string): string | undefined {
    if (answer === '') return q.whenMissing ?? 'is empty';
    if (q.choices) {
      const n = Number(answer);
      const ok = (Number.isInteger(n) && n >= 1 && n <= q.choices.length) || q.choices.includes(answer);
      if (!ok) return `is not one of: ${q.choices.join(', ')}`;
    }
    return q.check?.(this.resolveChoice(q, answer));
  }

  private resolveChoice(q: Question, answer: string): string {
    const n = Number(answer);
    return q.choices && Number.isInteger(n) && n >= 1 && n <= q.choices.length ? q.choices[n - 1]! : answer;
  }

  close(): void {
    this.reader?.close();
  }
}

async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        name: { type: 'string' },
        provider: { type: 'string' },
        project: { type: 'string' },
        account: { type: 'string' },
        region: { type: 'string' },
        zones: { type: 'string' },
        'gpu-type': { type: 'string' },
        'gpus-per-node': { type: 'string' },
        'min-gpu-nodes': { type: 'string' },
        'max-gpu-nodes': { type: 'string' },
        'cpu-nodes': { type: 'string' },
        bucket: { type: 'string' },
        registry: { type: 'string' },
        domain: { type: 'string' },
        'insecure-http': { type: 'boolean', default: false },
        out: { type: 'string', default: 'kiosk.config.json' },
        force: { type: 'boolean', default: false },
        yes: { type: 'boolean', default: false },
        interactive: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const flags: Flags = { ...parsed.values, project: parsed.values.project ?? parsed.values.account };
  const out = parsed.values.out;
  if (existsSync(out) && !parsed.values.force) {
    throw new UsageError(`${out} exists; pass --force to overwrite it (or --out to write elsewhere)`);
  }
  const interactive = parsed.values.interactive || process.stdin.isTTY === true;
  const asker = new Asker(flags, interactive, parsed.values.yes);
  try {
    const name = await asker.ask({
      flag: 'name',
      prompt: 'Lab name (prefix of every cloud resource)',
      fallback: 'cellkiosk',
      check: (a) =>
        /^[a-z][a-z0-9-]{1,18}[a-z0-9]$/.test(a) ? undefined : 'must be 3..20 lowercase letters, digits or -',
    });
    const provider = (await asker.ask({
      flag: 'provider',
      prompt: 'Cloud',
      choices: ['gke', 'eks'],
      fallback: 'gke',
    })) as CloudProvider;
    const project = await asker.ask({
      flag: 'project',
      prompt: provider === 'gke' ? 'GCP project id' : 'AWS account id (12 digits)',
      check: (a) =>
        provider === 'gke'
          ? /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(a)
            ? undefined
            : 'is not a GCP project id (6..30 lowercase letters, digits, -)'
          : /^\d{12}$/.test(a)
            ? undefined
            : 'is not a 12-digit AWS account id',
    });
    const regionChoices = REGIONS[provider];
    const region = await asker.ask({
      flag: 'region',
      prompt: 'Region',
      choices: regionChoices,
      fallback: regionChoices[0]!,
    });
    const defaultZones = provider === 'gke' ? (GKE_GPU_ZONE[region] ?? '') : `${region}a,${region}b`;
    const zones = (
      await asker.ask({
        flag: 'zones',
        prompt: 'Node zones, comma-separated',
        fallback: defaultZones,
        check: (a) =>
          a.split(',').every((z) => z.trim().startsWith(region)) ? undefined : `must be zones in ${region}`,
      })
    )
      .split(',')
      .map((z) => z.trim())
      .filter(Boolean);
    const gpuType = await asker.ask({
      flag: 'gpu-type',
      prompt: provider === 'gke' ? 'GPU (GKE accelerator type)' : 'GPU (EC2 instance family)',
      choices: GpuType.choices(provider),
      fallback: GpuType.nvidiaT4().nameOn(provider),
      // The cloud sells it, but the GPU workers' image (CUDA 12, onnxruntime's CUDA provider) may have no
      // code for it (issue 20 #5; constructs/gpu-images.ts).
      check: (a) => GpuType.of(provider, a).gpuImageProblem(provider),
    });
    const gpu = GpuType.of(provider, gpuType);
    const gpusPerNode = await asker.ask({
      flag: 'gpus-per-node',
      prompt: `GPUs per GPU node (${gpu.countsOn(provider).join(', ')})`,
      fallback: String(gpu.countsOn(provider)[0]),
      check: (a) =>
        gpu.countsOn(provider).includes(Number(a))
          ? undefined
          : `must be one of ${gpu.countsOn(provider).join(', ')}`,
    });
    const minGpu = await asker.ask({
      flag: 'min-gpu-nodes',
      prompt: 'Fewest GPU nodes (0 = no GPU cost when idle)',
      fallback: '0',
      check: count(0),
    });
    const maxGpu = await asker.ask({
      flag: 'max-gpu-nodes',
      prompt: 'Most GPU nodes',
      fallback: String(Math.max(2, Number(minGpu))),
      check: (a) =>
        count(1)(a) ??
        (Number(a) >= Number(minGpu) ? undefined : `must be >= the fewest GPU nodes (${minGpu})`),
    });
    const cpuNodes = await asker.ask({
      flag: 'cpu-nodes',
      prompt: 'Most CPU nodes',
      fallback: '3',
      check: count(1),
    });
    const bucket = await asker.ask({
      flag: 'bucket',
      prompt: 'Bucket name (globally unique)',
      fallback: `${project}-${name}`.slice(0, 63).replace(/-+$/, ''),
      check: (a) => bucketNameProblem(provider, a),
    });
    const registry = await asker.ask({
      flag: 'registry',
      prompt: 'Container registry',
      fallback:
        provider === 'gke'
          ? `${region}-docker.pkg.dev/${project}/cellkiosk`
          : `${project}.dkr.ecr.${region}.amazonaws.com/cellkiosk`,
    });
    const insecureHttp = parsed.values['insecure-http'];
    const domain = await asker.ask({
      flag: 'domain',
      prompt: 'Host name of the web UI, e.g. kiosk.example.org (HTTPS is served on it)',
      ...(insecureHttp
        ? // Signed URLs carry their own authorization, so a bucket open to any origin for GET exposes nothing.
          { optional: 'without one the Ingress answers any host name over plain HTTP, no TLS' }
        : { whenMissing: NO_DOMAIN }),
      check: domainProblem,
    });

    const config = parseLabConfig({
      name,
      provider,
      ...(provider === 'gke' ? { project } : { accountId: project }),
      region,
      ...(zones.length ? { zones } : {}),
      gpu: {
        type: gpuType,
        countPerNode: Number(gpusPerNode),
        minNodes: Number(minGpu),
        maxNodes: Number(maxGpu),
        spot: true,
      },
      cpu: { minNodes: 1, maxNodes: Number(cpuNodes) },
      bucket,
      images: { registry, tag: '0.1.0' },
      ...(domain ? { domain } : {}),
      ...(insecureHttp ? { insecureHttp: true } : {}),
    });
    await writeFile(out, `${JSON.stringify(config, null, 2)}\n`);
    process.stdout.write(
      `\nWrote ${out}. ` +
        (config.insecureHttp
          ? `TLS: off (--insecure-http): the API and its tokens are served over plain HTTP.\n`
          : `TLS: on for https://${config.domain} (${
              provider === 'gke'
                ? "Google-managed certificate; point the domain's A record at the stack's web_address output"
                : 'ACM certificate; create the DNS records of the certificate_validation_records output, then a CNAME to the ALB'
            }).\n`) +
        trainingNote(GpuType.of(provider, gpuType).trainingImageProblem(provider)) +
        `Next: npm run synth -- --config ${out}   (see docs/deploy.md)\n`,
    );
    return 0;
  } finally {
    asker.close();
  }
}

/** The line init prints when the training image cannot train on the chosen GPU (not a refusal). */
function trainingNote(problem: string | undefined): string {
  return problem
    ? `Training: ${problem}. Until then the GPU workers train on their CPU (docs/deploy.md).\n`
    : '';
}

export const command: Command = {
  name: 'init',
  summary: "write the lab's cloud config (kiosk.config.json) through a short terminal menu",
  usage,
  run,
};
