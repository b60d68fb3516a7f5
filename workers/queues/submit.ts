import { randomUUID } from 'node:crypto';
import {
  FlowProducer,
  Queue,
  type ConnectionOptions,
  type FlowJob,
  type Job,
  type JobsOptions,
} from 'bullmq';
import { FairScheduler, priorityOf } from './fair.js';
import { JOB, QUEUE, stageJobId, uploadFolder, zipOfEntry } from './names.js';
import type { ImageJobData, ModelRef, PackJobData, SegmentationOptions } from './payloads.js';
import type { JobRecord, JobRecords } from './records.js';

export interface RetryPolicy {
  /** Tries per stage for transient errors. @default 3 */
  readonly attempts: number;
  /** First backoff delay; doubles each retry. @default 1000 */
  readonly backoffMs: number;
  /** Seconds BullMQ keeps a finished stage job (records have their own expiry). @default 86400 */
  readonly keepFinishedS: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1000, keepFinishedS: 86_400 };

export interface SubmitterOptions {
  /**
   * Fair scheduling between labs, and between a lab's batches and its single images (workers/queues/fair.ts;
   * KIOSK_FAIR_SCHEDULING). Off: BullMQ's own order (first in, first out), as before issue 18 #13.
   * @default true
   */
  readonly fair?: boolean;
}

/** What every job of a submission shares. */
export interface SubmitOptions {
  readonly lab: string;
  /** The job type (`segmentation`). */
  readonly type: string;
  readonly model: ModelRef;
  readonly options: SegmentationOptions;
}

/** A job just submitted: its id, and its record (and a batch's children's) as created. */
export interface SubmittedJob {
  readonly id: string;
  readonly record: JobRecord;
  readonly children: readonly JobRecord[];
}

export interface SubmittedImage {
  /** The file's name as the user gave it (a zip entry keeps its folder path). */
  readonly name: string;
  /** Bucket key of the uploaded bytes. */
  readonly inputKey: string;
}

/**
 * Creates jobs: one record per user-visible job, and a BullMQ flow per image,
 * postprocess ← predict ← preprocess (children run first), each stage failing its parent when it fails.
 * A batch (zip / several files) adds a `pack` parent over the images' postprocess jobs; a failed image
 * does not stop the batch (`ignoreDependencyOnFailure`), the pack job lists it by name.
 * Each image's stage jobs carry its fair-scheduling priority (fair.ts), so another lab's image, or the same
 * lab's single image, does not wait behind a whole batch at any stage.
 */
export class JobSubmitter {
  private readonly flow: FlowProducer;
  private readonly postprocess: Queue;
  private readonly fair: FairScheduler | undefined;

  constructor(
    connection: ConnectionOptions,
    prefix: string,
    private readonly records: JobRecords,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    o: SubmitterOptions = {},
  ) {
    this.flow = new FlowProducer({ connection, prefix });
    this.postprocess = new Queue(QUEUE.postprocess, { connection, prefix });
    if (o.fair !== false) this.fair = new FairScheduler(() => this.postprocess.getBackend().client, prefix);
  }

  /** A stage job's options; `priority` (fair.ts) is left out when undefined (first in, first out). */
  private opts(jobId: string, priority?: number): JobsOptions {
    return {
      jobId,
      ...(priority ? { priority } : {}),
      attempts: this.retry.attempts,
      backoff: { type: 'exponential', delay: this.retry.backoffMs },
      removeOnComplete: { age: this.retry.keepFinishedS },
      removeOnFail: { age: this.retry.keepFinishedS },
    };
  }

  /**
   * predict ← preprocess of one pass (children run first); `parent` makes them a running job's children.
   * `priority`: the image's (fair.ts), the same at every stage.
   */
  private passFlow(
    data: ImageJobData,
    priority: number | undefined,
    parent?: JobsOptions['parent'],
  ): FlowJob {
    const { jobId } = data;
    const pass = data.pass ?? 1;
    return {
      name: JOB.predict,
      queueName: QUEUE.predict,
      data,
      opts: {
        ...this.opts(stageJobId(jobId, 'predict', pass), priority),
        failParentOnFailure: true,
        ...(parent ? { parent } : {}),
      },
      children: [
        {
          name: JOB.preprocess,
          queueName: QUEUE.preprocess,
          data,
          opts: { ...this.opts(stageJobId(jobId, 'pre', pass), priority), failParentOnFailure: true },
        },
      ],
    };
  }

  private imageFlow(data: ImageJobData, priority: number | undefined, extra: JobsOptions = {}): FlowJob {
    return {
      name: JOB.postprocess,
      queueName: QUEUE.postprocess,
      data,
      opts: { ...this.opts(stageJobId(data.jobId, 'post'), priority), ...extra },
      children: [this.passFlow(data, priority)],
    };
  }

  /**
   * Adds another segmentation pass (preprocess → predict at `data.scale`) as children of the running
   * postprocess job `parent`, which then waits for them and runs again with `data.pass`. They keep the
   * image's priority (the parent's).
   */
  async addPass(parent: Job, data: ImageJobData): Promise<void> {
    await this.flow.add(
      this.passFlow(data, parent.priority || undefined, { id: parent.id!, queue: parent.queueQualifiedName }),
    );
  }

  /** Submits one image; resolves to its job id. */
  async submitImage(image: SubmittedImage, o: SubmitOptions): Promise<string> {
    return (await this.submitImageJob(image, o)).id;
  }

  /** submitImage, resolving to the job's record as created (no read back from Redis). */
  async submitImageJob(image: SubmittedImage, o: SubmitOptions): Promise<SubmittedJob> {
    const jobId = randomUUID();
    const record = await this.createRecord(jobId, 'image', image.name, o, {
      status: 'new',
      input_key: image.inputKey,
      uploads: uploadFolders([image]),
    });
    // After the record: a submission in the same lane meanwhile sees this one as unfinished (fair.ts).
    const first = await this.fair?.take(o.lab, 'image', 1, jobId);
    const priority = first === undefined ? undefined : priorityOf(first, 0);
    await this.flow.add(this.imageFlow(this.imageData(jobId, image, o), priority));
    return { id: jobId, record, children: [] };
  }

  /** Submits several images as one batch job (status `waiting` until all finish); resolves to its id. */
  async submitBatch(name: string, images: readonly SubmittedImage[], o: SubmitOptions): Promise<string> {
    return (await this.submitBatchJob(name, images, o)).id;
  }

  /** submitBatch, resolving to the batch's record and its children's, as created. */
  async submitBatchJob(
    name: string,
    images: readonly SubmittedImage[],
    o: SubmitOptions,
  ): Promise<SubmittedJob> {
    if (images.length === 0) throw new RangeError('a batch needs at least one image');
    const jobId = randomUUID();
    const children = images.map((img) => ({ ...img, jobId: randomUUID() }));
    const zips = new Set(images.map((img) => zipOfEntry(img.inputKey)));
    const [zip] = zips;
    const record = await this.createRecord(jobId, 'batch', name, o, {
      status: 'waiting',
      children: children.map((c) => c.jobId),
      total_jobs: children.length,
      ...(zips.size === 1 && zip ? { input_key: zip } : {}),
      uploads: uploadFolders(images),
    });
    const childRecords: JobRecord[] = [];
    for (const c of children)
      childRecords.push(
        await this.createRecord(c.jobId, 'image', c.name, o, {
          status: 'new',
          parent: jobId,
          input_key: c.inputKey,
        }),
      );
    // After the children's records: a submission in the same lane meanwhile queues after this one (fair.ts).
    const first = await this.fair?.take(o.lab, 'batch', children.length, children.at(-1)!.jobId);
    const pack: PackJobData = {
      jobId,
      lab: o.lab,
      name,
      children: children.map((c) => ({ jobId: c.jobId, name: c.name })),
    };
    // The pack job has no priority: it becomes ready once every image is done and then runs before the
    // prioritized image stages (one per batch), so a batch ends as soon as its last image does.
    await this.flow.add({
      name: JOB.pack,
      queueName: QUEUE.postprocess,
      data: pack,
      opts: this.opts(stageJobId(jobId, 'pack')),
      children: children.map((c, i) =>
        this.imageFlow(
          this.imageData(c.jobId, c, o, jobId),
          first === undefined ? undefined : priorityOf(first, i),
          { ignoreDependencyOnFailure: true },
        ),
      ),
    });
    return { id: jobId, record, children: childRecords };
  }

  /**
   * Cancels a job that has not finished: its record turns `failed` ("cancelled by the user") at once; the
   * queued stages are removed; a stage already running finishes but the next one does not start.
   * Resolves false for an unknown id; true otherwise (a finished job stays as it was).
   */
  async cancel(jobId: string): Promise<boolean> {
    const rec = await this.records.get(jobId);
    if (!rec) return false;
    const ids = [jobId, ...(rec.children ?? [])];
    for (const id of ids) {
      await this.records.update(id, { cancelled: true });
      await this.records.finish(id, 'failed', { reason: 'cancelled by the user' });
    }
    const top = stageJobId(jobId, rec.kind === 'batch' ? 'pack' : 'post');
    try {
      await this.postprocess.remove(top, { removeChildren: true });
    } catch {
      // A stage is running (locked): it stops at the next stage boundary (processors check `cancelled`).
    }
    return true;
  }

  /**
   * Removes a job's BullMQ jobs (its flow: postprocess or pack, and every stage under it). A stage that is
   * running (locked) cannot be removed; it finishes and expires with the other finished stage jobs.
   */
  async removeStages(rec: Pick<JobRecord, 'id' | 'kind'>): Promise<void> {
    const top = stageJobId(rec.id, rec.kind === 'batch' ? 'pack' : 'post');
    await this.postprocess.remove(top, { removeChildren: true }).catch(() => undefined);
  }

  private imageData(jobId: string, image: SubmittedImage, o: SubmitOptions, parentId?: string): ImageJobData {
    return {
      jobId,
      lab: o.lab,
      inputKey: image.inputKey,
      name: image.name,
      model: o.model,
      type: o.type,
      options: o.options,
      ...(parentId ? { parentId } : {}),
    };
  }

  private async createRecord(
    id: string,
    kind: 'image' | 'batch',
    name: string,
    o: SubmitOptions,
    extra: Pick<JobRecord, 'parent' | 'children' | 'total_jobs' | 'input_key' | 'uploads'> & {
      status: 'new' | 'waiting';
    },
  ): Promise<JobRecord> {
    return this.records.create({
      id,
      kind,
      type: o.type,
      lab: o.lab,
      name,
      model: o.model.name,
      model_version: o.model.version,
      options: o.options,
      created_at: new Date().toISOString(),
      ...extra,
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.flow.close(), this.postprocess.close()]);
  }
}

/** The distinct upload folders of some images' inputs (keys outside uploads/ have none). */
function uploadFolders(images: readonly SubmittedImage[]): string[] {
  const folders = new Set<string>();
  for (const img of images) {
    const f = uploadFolder(img.inputKey);
    if (f) folders.add(f);
  }
  return [...folders];
}
