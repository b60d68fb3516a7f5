import type { ScaleDriver } from '../drivers/driver.js';

/**
 * A scale driver for tests that starts nothing: a pool's replicas (desired and actual) are what it was last
 * asked for, and `asked` lists every request in order.
 */
export class RecordingDriver implements ScaleDriver {
  readonly asked: [string, number][] = [];
  private readonly n = new Map<string, number>();

  /** @param name the driver name the autoscaler reports (e.g. 'local' to look like the local kiosk's) */
  constructor(readonly name = 'recording') {}

  async replicas(pool: string): Promise<number> {
    return this.n.get(pool) ?? 0;
  }

  async actual(pool: string): Promise<number> {
    return this.n.get(pool) ?? 0;
  }

  async scale(pool: string, replicas: number): Promise<void> {
    this.asked.push([pool, replicas]);
    this.n.set(pool, replicas);
  }

  async close(): Promise<void> {}
}
