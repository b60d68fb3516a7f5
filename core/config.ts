import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inferenceSettings } from '../workers/pipeline/inference-settings.js';
import { LAB_NAME } from './tokens.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Settings of the job service (API and workers), from the environment. Validated at boot: a bad or
 * missing value fails startup with every problem listed, not the first request.
 */
export interface ServiceConfig {
  /**
   * HOST. With KIOSK_AUTH=off in local mode the API listens on 127.0.0.1 whatever HOST says (api/auth.ts).
   * @default - '127.0.0.1' locally, '0.0.0.0' in cloud mode (pods are reached through their Service)
   */
  readonly host: string;
  /** PORT. @default 8080 */
  readonly port: number;
  /** REDIS_URL (required). */
  readonly redisUrl: string;
  /** KIOSK_BUCKET: a folder path, `file://`, `gs://bucket[/prefix]` or `s3://bucket[/prefix]`. @default '.kiosk/bucket' */
  readonly bucket: string;
  /** KIOSK_PREFIX: Redis key prefix of queues and job records. @default 'kiosk' */
  readonly prefix: string;
  /** KIOSK_LAB: the lab of every request while KIOSK_AUTH=off (with tokens, each token names its lab). @default 'default' */
  readonly lab: string;
  /**
   * KIOSK_MODE: `local` (one machine, `npm start`) or `cloud` (the synthesized cluster; refuses to start
   * with KIOSK_AUTH other than `tokens`).
   * @default - 'cloud' when KIOSK_STORAGE is set or KIOSK_BUCKET is gs:// or s3://, else 'local'
   */
  readonly mode: 'local' | 'cloud';
  /**
   * KIOSK_AUTH: `off` (every request is lab KIOSK_LAB, role admin; local mode only, bound to 127.0.0.1) or
   * `tokens` (per-lab API tokens from `kiosk token create`; see docs/security.md).
   * @default - 'off' in local mode, 'tokens' in cloud mode (where 'off' is refused)
   */
  readonly auth: 'off' | 'tokens';
  /** KIOSK_MAX_UPLOAD_MB: largest uploaded file. @default 512 */
  readonly maxUploadBytes: number;
  /** KIOSK_MAX_FILES: most files in one multipart upload. @default 1000 */
  readonly maxFilesPerUpload: number;
  /** KIOSK_MAX_PIXELS: largest decoded image, in values (H·W·C·Z). @default 2^28 */
  readonly maxPixels: number;
  /**
   * KIOSK_MAX_ZIP_ENTRIES: most entries one zip's central directory may list. A zip is judged from its
   * central directory (this, KIOSK_MAX_ZIP_ENTRY_MB, KIOSK_MAX_ZIP_RATIO, KIOSK_MAX_ZIP_MB) before anything
   * of it is unpacked; a refusal is a 400 naming the setting and the entry. @default 10000
   */
  readonly maxZipEntries: number;
  /**
   * KIOSK_MAX_ZIP_MB: most uncompressed bytes the zips of one job may declare in all (their entries are
   * unpacked streaming into the bucket, each stopped at the size it declares). @default 4096
   */
  readonly maxZipBytes: number;
  /** KIOSK_MAX_ZIP_ENTRY_MB: most uncompressed bytes one zip entry may declare. @default 512 */
  readonly maxZipEntryBytes: number;
  /** KIOSK_MAX_ZIP_RATIO: highest uncompressed/compressed ratio of a zip entry over 1 MiB. @default 1100 */
  readonly maxZipRatio: number;
  /**
   * KIOSK_MAX_JOB_IMAGES: most images (a batch's children: files plus zip entries) in one job; over it,
   * 400 naming the setting, before anything is unpacked or queued. @default 10000
   */
  readonly maxJobImages: number;
  /** KIOSK_MAX_FRAMES: most pages (TIFF IFDs, thumbnails included) in one image file. @default 10000 */
  readonly maxFrames: number;
  /** KIOSK_MAX_REQUEST_MB: most bytes of all files in one multipart upload request. @default 4096 */
  readonly maxRequestBytes: number;
  /** KIOSK_MAX_BODY_KB: largest JSON (non-multipart) request body. @default 1024 */
  readonly maxBodyBytes: number;
  /**
   * KIOSK_RATE_LIMIT: requests one lab (by its token; by client IP without authentication) may make per
   * window; 0 turns rate limiting off. /health, /metrics, /docs and the web UI's files are not counted.
   * @default 6000
   */
  readonly rateLimit: number;
  /** KIOSK_RATE_WINDOW_S: the rate limit's window in seconds. @default 60 */
  readonly rateWindowS: number;
  /**
   * KIOSK_RATE_STORE: where the rate limit counts requests: `redis` (shared by every API replica) or `memory`
   * (this process only: exact when one API process serves the kiosk, as `kiosk start` runs it, and one
   * Redis round trip less per request). @default - 'memory' in local mode, 'redis' in cloud mode
   */
  readonly rateStore: 'redis' | 'memory';
  /**
   * KIOSK_AUTH_FAIL_LIMIT: failed authentications (bad, unknown or revoked tokens and signatures) one client
   * address may make per KIOSK_RATE_WINDOW_S before every request from it answers 429 until the window
   * ends (token guessing); 0 turns it off. Only with KIOSK_AUTH=tokens. @default 30
   */
  readonly authFailLimit: number;
  /**
   * KIOSK_TRUST_PROXY: which proxies in front of the API may name the client's address in X-Forwarded-For
   * (fastify's `trustProxy`); the per-address failed-authentication count and the rate limit without a
   * token use that address. `false`: none, the client is the TCP peer (a local kiosk, or an API reached
   * directly); `true`: every peer (only when nothing but the proxy can reach the API); a number `n`: the
   * n proxies nearest the API (the address n hops back in X-Forwarded-For); or comma-separated addresses
   * and CIDRs of the proxies (`10.0.0.0/16`). Behind a cloud Ingress set it (GKE's load balancer: 2; AWS's
   * ALB: 1), else every user shares the load balancer's address (docs/security.md).
   * @default false
   */
  readonly trustProxy: boolean | number | readonly string[];
  /**
   * KIOSK_BODY_TIMEOUT_S: seconds a request body may go without a byte arriving (a stalled or truncated
   * upload) before the API answers 408 'request-timeout' and closes the connection; counted only while
   * a body is being received, so a slow but moving upload of any size is not cut. @default 60
   */
  readonly bodyTimeoutS: number;
  /**
   * KIOSK_CORS_ORIGINS: comma-separated origins (`https://lab.example.org`) whose pages may call the API from
   * a browser, besides the kiosk's own. @default - none (same-origin only)
   */
  readonly corsOrigins: readonly string[];
  /** KIOSK_JOB_TTL_S: seconds a finished job's record is kept (the Kiosk's EXPIRE). @default 604800 (7 days) */
  readonly finishedTtlS: number;
  /** KIOSK_PUBLIC_URL: base of download URLs given to clients. @default - from each request's Host */
  readonly publicUrl?: string;
  /** KIOSK_MODELS_DIR: built-in models (`<name>/<version>/`). @default '<repo>/models' */
  readonly modelsDir: string;
  /** KIOSK_MODEL_CACHE: where bucket models are copied before loading. @default '.kiosk/model-cache' */
  readonly modelCacheDir: string;
  /** KIOSK_DEFAULT_MODEL: model of `segmentation` jobs that name none. @default 'nuclear' */
  readonly defaultModel: string;
  /** KIOSK_SIGNED_URL_TTL_S: lifetime of signed download URLs (cloud buckets). @default 3600 */
  readonly signedUrlTtlS: number;
  /** KIOSK_ATTEMPTS: tries per stage for transient errors. @default 3 */
  readonly attempts: number;
  /** KIOSK_BACKOFF_MS: first retry delay (doubles). @default 1000 */
  readonly backoffMs: number;
  /**
   * KIOSK_LOCK_MS: a worker's lock on a running stage, renewed every half of it; the stages of a killed
   * worker go back to the queue once it runs out (read by workers/processors/pool.ts). @default 60000
   */
  readonly lockMs: number;
  /** KIOSK_STALLED_INTERVAL_MS: how often workers look for stages whose lock ran out. @default 30000 */
  readonly stalledIntervalMs: number;
  /** KIOSK_PREDICT_CONCURRENCY: predict jobs one inference worker runs at once (their tiles share batches). @default 4 */
  readonly predictConcurrency: number;
  /**
   * KIOSK_CPU_CONCURRENCY: jobs per CPU queue one CPU worker runs at once; their compute takes turns, so a
   * second job only fills the first one's waits on Redis (and holds no big arrays meanwhile). @default 2
   */
  readonly cpuConcurrency: number;
  /**
   * KIOSK_FAIR_SCHEDULING: 1 shares the workers fairly between labs, and between a lab's batches and its
   * single images (workers/queues/fair.ts: an image of one lab does not wait behind another lab's batch at any
   * stage); 0 leaves BullMQ's own order (first in, first out). Read where jobs are submitted (the API).
   * @default 1
   */
  readonly fairScheduling: boolean;
  /** KIOSK_BATCH_TILES: most tiles per model call. @default inferenceSettings(cores).serviceBatchTiles (16) */
  readonly maxBatchTiles: number;
  /**
   * KIOSK_ONNX_THREADS: onnxruntime threads of the inference worker.
   * @default - every core (its threads sleep when idle, KIOSK_ONNX_SPIN, so the CPU worker pre/post-processes
   *   between them; on 2 cores, 200 val images: 85-88 % of `kiosk segment`'s throughput, against 74-85 % with
   *   one thread; with spinning threads, two gave 74-80 %)
   */
  readonly onnxThreads: number;
  /**
   * KIOSK_ONNX_SPIN: 1 lets the inference worker's idle onnxruntime threads busy-wait (faster only on cores
   * nothing else uses; `kiosk segment` alone on a machine keeps onnxruntime's default, spinning). @default 0
   */
  readonly onnxSpin: boolean;
  /** KIOSK_RUNTIME: inference runtime (auto | onnx | tfjs). @default 'auto' */
  readonly runtime: 'auto' | 'onnx' | 'tfjs';
  /**
   * KIOSK_INT8: whether onnxruntime on the CPU serves a model folder's int8 copy (model.int8.onnx): auto = only
   * when its card records a passed accuracy gate for that file and it is faster on this machine (timed at the
   * first load on the machine and kept for every process); on = whenever the file exists; off = never
   * (workers/model/runners.ts, docs/performance.md).
   * @default 'auto'
   */
  readonly int8: 'auto' | 'on' | 'off';
  /**
   * KIOSK_SCRATCH_DIR: where a local folder bucket keeps the arrays stages hand each other (deleted as each
   * job ends): `auto` (a folder in /dev/shm, the RAM file system, while it has room), `bucket` (inside the
   * bucket folder; set it when workers on several machines share one bucket folder) or a folder path.
   * @default 'auto'
   */
  readonly scratchDir: string;
  /**
   * KIOSK_SWEEP_INTERVAL_S: how often the API deletes the bucket objects (results, uploads) of jobs whose
   * records have expired (KIOSK_JOB_TTL_S), for a local folder bucket; cloud buckets use lifecycle rules.
   * 0 turns the sweep off. @default 600
   */
  readonly sweepIntervalS: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and checks the configuration; throws ConfigError naming each bad variable, its rule and its value. */
export function loadConfig(env: Env = process.env, overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  const problems: string[] = [];
  // tiles per call and threads as measured for this machine's cores (workers/pipeline/inference-settings.ts)
  const machine = inferenceSettings(availableParallelism());
  const int = (name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) {
      problems.push(`'${name}' must be an integer in [${min}, ${max}]; got ${JSON.stringify(raw)}`);
      return def;
    }
    return v;
  };
  const redisUrl = overrides.redisUrl ?? env.REDIS_URL;
  if (!redisUrl) problems.push(`'REDIS_URL' is required (redis://host:port)`);
  else if (!/^rediss?:\/\//.test(redisUrl))
    problems.push(`'REDIS_URL' must start with redis:// or rediss://; got ${JSON.stringify(redisUrl)}`);
  const runtime = env.KIOSK_RUNTIME ?? 'auto';
  if (!['auto', 'onnx', 'tfjs'].includes(runtime))
    problems.push(`'KIOSK_RUNTIME' must be auto, onnx or tfjs; got ${JSON.stringify(runtime)}`);
  const int8 = (env.KIOSK_INT8 ?? '').trim() || 'auto';
  if (!['auto', 'on', 'off'].includes(int8))
    problems.push(`'KIOSK_INT8' must be auto, on or off; got ${JSON.stringify(int8)}`);
  const publicUrl = env.KIOSK_PUBLIC_URL;
  if (publicUrl && !/^https?:\/\/[^/]+/.test(publicUrl))
    problems.push(`'KIOSK_PUBLIC_URL' must be an http(s) URL; got ${JSON.stringify(publicUrl)}`);
  const prefix = env.KIOSK_PREFIX ?? 'kiosk';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(prefix))
    problems.push(`'KIOSK_PREFIX' must be 1-64 of [A-Za-z0-9_-]; got ${JSON.stringify(prefix)}`);
  const corsOrigins = (env.KIOSK_CORS_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter((o) => o !== '');
  for (const o of corsOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(o))
      problems.push(
        `'KIOSK_CORS_ORIGINS' entries must be origins like https://host[:port]; got ${JSON.stringify(o)}`,
      );
  }
  const lab = env.KIOSK_LAB ?? 'default';
  if (!LAB_NAME.test(lab))
    problems.push(`'KIOSK_LAB' must be 1-64 of [A-Za-z0-9_-]; got ${JSON.stringify(lab)}`);
  const bucket = env.KIOSK_BUCKET ?? '.kiosk/bucket';
  const mode = env.KIOSK_MODE || (env.KIOSK_STORAGE || /^(gs|s3):\/\//.test(bucket) ? 'cloud' : 'local');
  if (mode !== 'local' && mode !== 'cloud')
    problems.push(`'KIOSK_MODE' must be local or cloud; got ${JSON.stringify(mode)}`);
  const auth = env.KIOSK_AUTH || (mode === 'cloud' ? 'tokens' : 'off');
  if (mode === 'cloud' && auth === 'off')
    problems.push(
      `cloud mode refuses to run without authentication: KIOSK_AUTH=off is for a local kiosk only. Unset it ` +
        'or set KIOSK_AUTH=tokens, and create a token with `npx kiosk token create --lab LAB --role admin` ' +
        '(docs/security.md)',
    );
  else if (auth !== 'off' && auth !== 'tokens')
    problems.push(`'KIOSK_AUTH' must be off or tokens; got ${JSON.stringify(auth)}`);
  const rateStore = env.KIOSK_RATE_STORE || (mode === 'cloud' ? 'redis' : 'memory');
  if (rateStore !== 'redis' && rateStore !== 'memory')
    problems.push(`'KIOSK_RATE_STORE' must be redis or memory; got ${JSON.stringify(rateStore)}`);
  const trustProxy = parseTrustProxy(env.KIOSK_TRUST_PROXY, problems);
  const config: ServiceConfig = {
    host: env.HOST || (mode === 'cloud' ? '0.0.0.0' : '127.0.0.1'),
    port: int('PORT', 8080, 0, 65535),
    redisUrl: redisUrl ?? '',
    bucket,
    prefix,
    lab,
    mode: mode as ServiceConfig['mode'],
    auth: auth as ServiceConfig['auth'],
    maxUploadBytes: int('KIOSK_MAX_UPLOAD_MB', 512, 1, 1 << 20) * 2 ** 20,
    maxFilesPerUpload: int('KIOSK_MAX_FILES', 1000, 1),
    maxPixels: int('KIOSK_MAX_PIXELS', 2 ** 28, 1),
    maxZipEntries: int('KIOSK_MAX_ZIP_ENTRIES', 10_000, 1),
    maxZipBytes: int('KIOSK_MAX_ZIP_MB', 4096, 1, 1 << 20) * 2 ** 20,
    maxZipEntryBytes: int('KIOSK_MAX_ZIP_ENTRY_MB', 512, 1, 1 << 20) * 2 ** 20,
    maxZipRatio: int('KIOSK_MAX_ZIP_RATIO', 1100, 2),
    maxJobImages: int('KIOSK_MAX_JOB_IMAGES', 10_000, 1),
    maxFrames: int('KIOSK_MAX_FRAMES', 10_000, 1),
    maxRequestBytes: int('KIOSK_MAX_REQUEST_MB', 4096, 1, 1 << 20) * 2 ** 20,
    maxBodyBytes: int('KIOSK_MAX_BODY_KB', 1024, 1, 1 << 20) * 1024,
    rateLimit: int('KIOSK_RATE_LIMIT', 6000, 0),
    rateWindowS: int('KIOSK_RATE_WINDOW_S', 60, 1, 86_400),
    rateStore: rateStore as ServiceConfig['rateStore'],
    authFailLimit: int('KIOSK_AUTH_FAIL_LIMIT', 30, 0),
    trustProxy,
    bodyTimeoutS: int('KIOSK_BODY_TIMEOUT_S', 60, 1, 86_400),
    corsOrigins,
    finishedTtlS: int('KIOSK_JOB_TTL_S', 7 * 86_400, 1),
    ...(publicUrl ? { publicUrl: publicUrl.replace(/\/+$/, '') } : {}),
    modelsDir: env.KIOSK_MODELS_DIR ?? join(repoRoot, 'models'),
    modelCacheDir: env.KIOSK_MODEL_CACHE ?? '.kiosk/model-cache',
    defaultModel: env.KIOSK_DEFAULT_MODEL ?? 'nuclear',
    signedUrlTtlS: int('KIOSK_SIGNED_URL_TTL_S', 3600, 1, 7 * 86_400),
    attempts: int('KIOSK_ATTEMPTS', 3, 1, 100),
    backoffMs: int('KIOSK_BACKOFF_MS', 1000, 0),
    lockMs: int('KIOSK_LOCK_MS', 60_000, 1000),
    stalledIntervalMs: int('KIOSK_STALLED_INTERVAL_MS', 30_000, 500),
    predictConcurrency: int('KIOSK_PREDICT_CONCURRENCY', 4, 1, 256),
    cpuConcurrency: int('KIOSK_CPU_CONCURRENCY', 2, 1, 256),
    fairScheduling: int('KIOSK_FAIR_SCHEDULING', 1, 0, 1) === 1,
    maxBatchTiles: int('KIOSK_BATCH_TILES', machine.serviceBatchTiles, 1, 4096),
    onnxThreads: int('KIOSK_ONNX_THREADS', machine.intraOpThreads, 1, 1024),
    onnxSpin: int('KIOSK_ONNX_SPIN', 0, 0, 1) === 1,
    runtime: runtime as ServiceConfig['runtime'],
    int8: int8 as ServiceConfig['int8'],
    scratchDir: env.KIOSK_SCRATCH_DIR || 'auto',
    sweepIntervalS: int('KIOSK_SWEEP_INTERVAL_S', 600, 0, 7 * 86_400),
    ...overrides,
  };
  if (problems.length) throw new ConfigError(`bad configuration:\n  - ${problems.join('\n  - ')}`);
  return config;
}

/** KIOSK_TRUST_PROXY → fastify's trustProxy: false/true, a hop count, or proxy addresses and CIDRs. */
function parseTrustProxy(raw: string | undefined, problems: string[]): ServiceConfig['trustProxy'] {
  const v = (raw ?? '').trim();
  if (v === '' || v === 'false' || v === '0') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v) && Number(v) <= 64) return Number(v);
  const list = v.split(',').map((x) => x.trim());
  const ipv4 = /^(\d{1,3})(\.\d{1,3}){3}(\/\d{1,2})?$/;
  const ipv6 = /^[0-9a-fA-F:]*:[0-9a-fA-F:.]*(\/\d{1,3})?$/;
  if (list.every((x) => ipv4.test(x) || ipv6.test(x))) return list;
  problems.push(
    `'KIOSK_TRUST_PROXY' must be false, true, a hop count (0-64) or comma-separated proxy addresses/CIDRs; ` +
      `got ${JSON.stringify(raw)}`,
  );
  return false;
}
