/**
 * The live job state of the page: job records from the API kept current by the server-sent event stream
 * (GET /v1/events, `event: job`). The rules for merging events live in lib/job-events.ts (pure, tested);
 * this class only wires them to EventSource and fetch. When the stream drops, EventSource reconnects and
 * the jobs that were still running are fetched again (events sent while disconnected are lost).
 */
import { api, withToken, type Job } from './api.js';
import {
  applyJobEvent,
  emptyJobs,
  isFinal,
  parseJobEvent,
  removeJob,
  upsertJob,
  type JobView,
  type JobsState,
} from './lib/job-events.js';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'unavailable';

export function jobToView(job: Job): JobView {
  return { ...job, status: job.status as JobView['status'] };
}

export class JobStore {
  state: JobsState = emptyJobs;
  stream: StreamState = 'connecting';
  private readonly listeners = new Set<() => void>();
  private source?: EventSource;
  private fetching = new Set<string>();
  /** Jobs asked for again while their fetch was under way. */
  private readonly again = new Set<string>();
  private scheduled = false;

  connect(): void {
    if (this.source) return;
    const es = new EventSource(withToken('/v1/events'));
    this.source = es;
    es.addEventListener('open', () => {
      const wasDown = this.stream === 'reconnecting';
      this.stream = 'live';
      if (wasDown) this.refreshRunning();
      this.changed();
    });
    es.addEventListener('error', () => {
      this.stream = es.readyState === EventSource.CLOSED ? 'unavailable' : 'reconnecting';
      this.changed();
    });
    es.addEventListener('job', (e) => {
      const ev = parseJobEvent((e as MessageEvent<string>).data);
      if (!ev) return;
      this.state = applyJobEvent(this.state, ev);
      for (const id of this.state.unknown) this.fetchJob(id);
      // A final event carries no result fields (object count, URLs): read the record once.
      if (ev.status === 'done' || ev.status === 'failed') this.fetchJob(ev.id);
      this.changed();
    });
  }

  /** Puts a record the page already has (a created job, a fetched one) into the state. */
  put(job: Job): void {
    this.state = upsertJob(this.state, jobToView(job));
    this.changed();
  }

  forget(id: string): void {
    this.state = removeJob(this.state, id);
    this.changed();
  }

  get(id: string): JobView | undefined {
    return this.state.jobs.get(id);
  }

  /** Calls `fn` (batched to one call per animation frame) whenever the state changes; returns unsubscribe. */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Fetches a job's full record (e.g. a finished one, for its object count and URLs). Asked again while a
   * fetch is under way (the job finished meanwhile), it fetches once more when that one returns: the first
   * may have read the record before the change.
   */
  fetchJob(id: string): void {
    if (this.fetching.has(id)) {
      this.again.add(id);
      return;
    }
    this.fetching.add(id);
    const settle = () => {
      this.fetching.delete(id);
      if (this.again.delete(id)) this.fetchJob(id);
    };
    api.job(id).then((job) => {
      this.put(job);
      settle();
    }, settle);
  }

  private refreshRunning(): void {
    for (const [id, j] of this.state.jobs) if (!isFinal(j.status)) this.fetchJob(id);
  }

  private changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      for (const fn of [...this.listeners]) fn();
    });
  }
}

/** What this browser tab remembers about the jobs it submitted: the local file (for the Viewer) and its upload key. */
export interface SubmittedFile {
  readonly file: File;
  readonly uploadKey: string;
}

export const session = {
  files: new Map<string, SubmittedFile>(),
};
