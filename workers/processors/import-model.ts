/**
 * The `import-model` job of the `models` queue (CPU pool): a bioimage.io package that POST
 * /v1/models/import staged under the caller's uploads is checked and test-run (workers/bioimageio's
 * checkPackage, ONNX Runtime on the CPU) and published as the bucket model `models/<name>/<version>/`.
 *
 * It runs here, not in the API, because of the bucket grants (constructs/roles.ts): the API faces the
 * internet and may only read `models/`; the CPU worker may write it. The API deletes the staged zip once
 * the job has ended (the worker may only read uploads/).
 *
 * A package this kiosk cannot import, or a name it may not take, fails the job at once (unrecoverable) with
 * a reason `<api error code>: <message>` that {@link importRefusal} reads back; anything else (the bucket
 * away) is retried like any stage.
 */
import type { Job } from 'bullmq';
import type { OutputRole } from '../bioimageio/card.js';
import { checkPackage, importedFiles, type ImportedModel } from '../bioimageio/import.js';
import { BioimageioError } from '../bioimageio/rdf.js';
import { BadInputError, classifyError } from '../queues/errors.js';
import { inComputeSlot, type Processor, type WorkerContext } from './context.js';

/** What the API puts on the queue: where the package lies and how to import it. */
export interface ImportModelJobData {
  /** The caller's lab: the model is that lab's, and only its own models block a name. */
  readonly lab: string;
  /** The staged package, `uploads/<lab>/<id>/package.zip` (keys.upload). */
  readonly key: string;
  /** The model's name here. @default - the rdf's name, made registry-safe */
  readonly name?: string;
  /** Roles of the output channels (see ImportOptions.roles). @default - from the rdf */
  readonly roles?: readonly OutputRole[];
}

/** What an import returns: the body of the API's 201. */
export interface ImportModelResult {
  readonly name: string;
  readonly version: string;
  /** How the outputs become labels (the card's bioimageio.labels.method). */
  readonly labels: string;
  /** The package's test, as run (the card's bioimageio.test). */
  readonly test: Record<string, unknown>;
}

/** API error codes an import can be refused with (api/errors.ts). */
export type ImportRefusalCode = 'bad-model-package' | 'model-name-taken';

/** A refusal, as the failed job's reason carries it: `<code>: <message>`. */
export class ImportRefusedError extends BadInputError {
  constructor(
    readonly refusal: ImportRefusalCode,
    readonly detail: string,
  ) {
    super(refusal, `${refusal}: ${detail}`);
  }
}

/** The refusal a failed import job's reason carries, or undefined for any other failure. */
export function importRefusal(
  reason: string | undefined,
): { readonly error: ImportRefusalCode; readonly message: string } | undefined {
  const m = /^(bad-model-package|model-name-taken): ([\s\S]*)$/.exec(reason ?? '');
  return m ? { error: m[1] as ImportRefusalCode, message: m[2]! } : undefined;
}

export interface ImportModelOptions {
  /** ONNX Runtime threads for the package's test run. @default 1 */
  readonly threads?: number;
}

export function importModelProcessor(
  ctx: WorkerContext,
  o: ImportModelOptions = {},
): Processor<ImportModelJobData, ImportModelResult> {
  return async (job: Job<ImportModelJobData, ImportModelResult>) => {
    try {
      return await importOne(ctx, job.data, o);
    } catch (err) {
      if (err instanceof BioimageioError)
        throw new ImportRefusedError('bad-model-package', `${err.message} [${err.code}]`);
      throw classifyError(err);
    }
  };
}

async function importOne(
  ctx: WorkerContext,
  data: ImportModelJobData,
  o: ImportModelOptions,
): Promise<ImportModelResult> {
  const zip = await ctx.storage.get(data.key);
  const imported: ImportedModel = await inComputeSlot(ctx, () =>
    checkPackage(zip, {
      ...(data.name ? { name: data.name } : {}),
      ...(data.roles ? { roles: data.roles } : {}),
      threads: o.threads ?? 1,
    }),
  ).catch((err: unknown) => {
    if (err instanceof BioimageioError) throw err;
    // checkPackage reads only the package's bytes, so what else it throws (an rdf shape it did not foresee)
    // comes from the package and would come again: a refusal, not a retry.
    throw new ImportRefusedError(
      'bad-model-package',
      `the package could not be checked: ${err instanceof Error ? err.message : String(err)}`,
    );
  });
  // Versions are numbered over every lab's models (one bucket namespace, models/<name>/<version>/), but only
  // a model the caller can see blocks the name: another lab's models stay invisible.
  const all = (await ctx.registry.list()).filter((m) => m.name === imported.name);
  const own = (await ctx.registry.list(data.lab)).find(
    (m) => m.name === imported.name && !(m.card as Record<string, unknown>)['bioimageio'],
  );
  if (own)
    throw new ImportRefusedError(
      'model-name-taken',
      `model '${imported.name}' exists and is not a bioimage.io import; send another name`,
    );
  const version = Math.max(0, ...all.map((m) => Number(m.version))) + 1;
  const files = importedFiles(imported, version, { lab: data.lab });
  const prefix = `models/${imported.name}/${version}/`;
  // card.json last: the registry lists a version once its card is there.
  for (const [file, bytes] of files) if (file !== 'card.json') await ctx.storage.put(prefix + file, bytes);
  await ctx.storage.put(`${prefix}card.json`, files.get('card.json')!);
  const section = imported.card['bioimageio'] as {
    labels: { method: string };
    test: Record<string, unknown>;
  };
  return {
    name: imported.name,
    version: String(version),
    labels: section.labels.method,
    test: section.test,
  };
}
