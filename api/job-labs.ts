import type { JobRecords } from '../workers/queues/records.js';

/**
 * The lab of a job id, for filtering the job-event stream per lab (events carry only the id). A job's lab
 * never changes, so answers are cached (the newest `max` ids); an id with no record (expired, or a typo)
 * resolves to undefined and is not cached. Lookups of one id share one Redis read.
 */
export class JobLabs {
  private readonly known = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly records: JobRecords,
    private readonly max = 10_000,
  ) {}

  of(id: string): Promise<string | undefined> {
    let lab = this.known.get(id);
    if (!lab) {
      lab = this.records.raw(id, ['lab']).then((r) => r?.[0] ?? undefined);
      this.known.set(id, lab);
      if (this.known.size > this.max) this.known.delete(this.known.keys().next().value!);
      void lab.then(
        (l) => l === undefined && this.known.delete(id),
        () => this.known.delete(id),
      );
    }
    return lab;
  }
}
