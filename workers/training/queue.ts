/**
 * The `train` queue (GPU pool): one BullMQ job per training job, id = the training id, payload = that id
 * only (parameters and data live on the record and in the bucket). Retries with backoff for transient
 * failures; a worker that dies mid-run loses its lock and the job is picked up again (stalled-job recovery),
 * resuming from its last checkpoint.
 */
import { Queue, type ConnectionOptions } from 'bullmq';

export const TRAIN_QUEUE = 'train';
export const TRAIN_JOB = 'train';

export interface TrainJobData {
  readonly trainingId: string;
}

export interface TrainingQueueOptions {
  /** Tries for transient failures. @default 3 */
  readonly attempts?: number;
  /** First retry delay (doubles). @default 5000 */
  readonly backoffMs?: number;
}

export class TrainingQueue {
  readonly queue: Queue<TrainJobData>;

  constructor(
    connection: ConnectionOptions,
    prefix: string,
    private readonly opts: TrainingQueueOptions = {},
  ) {
    this.queue = new Queue<TrainJobData>(TRAIN_QUEUE, { connection, prefix });
  }

  async submit(trainingId: string): Promise<void> {
    await this.queue.add(
      TRAIN_JOB,
      { trainingId },
      {
        jobId: trainingId,
        attempts: this.opts.attempts ?? 3,
        backoff: { type: 'exponential', delay: this.opts.backoffMs ?? 5000 },
        removeOnComplete: { age: 86_400 },
        removeOnFail: { age: 7 * 86_400 },
      },
    );
  }

  /**
   * 1-based place of a waiting job in the queue (1 = next to start), or undefined when it is not waiting
   * (running, finished, delayed for a retry, unknown).
   */
  async position(trainingId: string): Promise<number | undefined> {
    // getWaiting lists the jobs in the order workers will take them (checked by the API tests).
    const waiting = await this.queue.getWaiting(0, -1);
    const i = waiting.findIndex((j) => j.id === trainingId);
    return i < 0 ? undefined : i + 1;
  }

  /** Removes a job that has not started; resolves false when it is running (or gone). */
  async removeWaiting(trainingId: string): Promise<boolean> {
    const job = await this.queue.getJob(trainingId);
    if (!job) return false;
    const state = await job.getState();
    if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return false;
    try {
      await job.remove();
      return true;
    } catch {
      return false; // taken by a worker in between
    }
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
