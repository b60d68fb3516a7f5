import type { Redis } from 'ioredis';
import type { JobEvent, JobRecord, JobRecords } from './records.js';

export type JobEventListener = (event: Partial<JobEvent> & { id: string }) => void;

/**
 * Fans the job-event channel out to in-process listeners over one subscriber connection (the SSE stream
 * and waiters share it). `start()` subscribes; `close()` unsubscribes and disconnects the subscriber.
 */
export class JobWatcher {
  private readonly listeners = new Set<JobEventListener>();
  /** Listeners of one job's events (waitForFinal): an event reaches its job's, not every waiter. */
  private readonly byJob = new Map<string, Set<JobEventListener>>();
  private started?: Promise<unknown>;

  constructor(
    private readonly records: JobRecords,
    private readonly subscriber: Redis,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== records.channel) return;
      let ev: Partial<JobEvent> & { id: string };
      try {
        ev = JSON.parse(message) as Partial<JobEvent> & { id: string };
      } catch {
        return;
      }
      for (const l of [...this.listeners]) l(ev);
      const own = this.byJob.get(ev.id);
      if (own) for (const l of [...own]) l(ev);
    });
  }

  start(): Promise<unknown> {
    // Subscribe only once the connection is ready: a SUBSCRIBE queued before ioredis's ready check (INFO)
    // puts the connection in subscriber mode too early and the check fails.
    this.started ??= (
      this.subscriber.status === 'ready'
        ? Promise.resolve()
        : new Promise((r) => this.subscriber.once('ready', r))
    ).then(() => this.subscriber.subscribe(this.records.channel));
    return this.started;
  }

  /** Adds a listener of every job's events; returns the function that removes it. */
  listen(l: JobEventListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Adds a listener of job `id`'s events only; returns the function that removes it. */
  listenTo(id: string, l: JobEventListener): () => void {
    let set = this.byJob.get(id);
    if (!set) this.byJob.set(id, (set = new Set()));
    set.add(l);
    return () => {
      set.delete(l);
      if (set.size === 0 && this.byJob.get(id) === set) this.byJob.delete(id);
    };
  }

  /**
   * Resolves with the job's record once it is `done` or `failed`. Rejects after `timeoutMs` with the last
   * status seen, or at once for an unknown id.
   */
  async waitForFinal(id: string, timeoutMs: number): Promise<JobRecord> {
    let stop: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<JobRecord>((resolve, reject) => {
        const check = () =>
          this.records.get(id).then((rec) => {
            if (!rec) reject(new Error(`job ${id} does not exist`));
            else if (rec.status === 'done' || rec.status === 'failed') resolve(rec);
          }, reject);
        stop = this.listenTo(id, (ev) => {
          if (ev.status === 'done' || ev.status === 'failed') void check();
        });
        timer = setTimeout(() => {
          void this.records
            .get(id)
            .then((rec) =>
              reject(new Error(`job ${id} not finished after ${timeoutMs} ms (status ${rec?.status})`)),
            );
        }, timeoutMs);
        this.start().then(check, reject);
      });
    } finally {
      clearTimeout(timer);
      stop?.();
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.byJob.clear();
    this.subscriber.disconnect();
  }
}
