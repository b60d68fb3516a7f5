/**
 * One job's compute at a time in a process that runs several jobs at once (the CPU worker: 2 per queue).
 * The jobs' Redis round trips — entering a stage, finishing it, BullMQ taking the next job — then overlap
 * another job's math instead of leaving the process idle, while the big arrays of only one job's compute
 * are alive at once (a second concurrent job would otherwise double the worker's peak memory).
 * First come, first served; a body that throws releases the slot.
 */
export class ComputeSlot {
  private tail: Promise<void> = Promise.resolve();
  /** Jobs holding or waiting for the slot. */
  private queued = 0;

  /** Runs `body` once the jobs that asked before have left the slot. */
  async run<T>(body: () => Promise<T>): Promise<T> {
    const before = this.tail;
    let leave!: () => void;
    this.tail = new Promise<void>((r) => (leave = r));
    this.queued++;
    try {
      await before;
      return await body();
    } finally {
      this.queued--;
      leave();
    }
  }

  /** Jobs holding or waiting for the slot (tests, metrics). */
  get waiting(): number {
    return this.queued;
  }
}
