import { describe, expect, it } from 'vitest';
import { ComputeSlot } from './compute-slot.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('ComputeSlot', () => {
  it('runs one body at a time, in the order they asked', async () => {
    const slot = new ComputeSlot();
    const log: string[] = [];
    let inside = 0;
    let most = 0;
    const job = (name: string) =>
      slot.run(async () => {
        inside++;
        most = Math.max(most, inside);
        log.push(`${name} in`);
        await tick();
        log.push(`${name} out`);
        inside--;
        return name;
      });
    expect(await Promise.all([job('a'), job('b'), job('c')])).toEqual(['a', 'b', 'c']);
    expect(most).toBe(1);
    expect(log).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    expect(slot.waiting).toBe(0);
  });

  it('a body that throws gives the slot to the next one and passes its error on', async () => {
    const slot = new ComputeSlot();
    const failed = slot.run(async () => {
      await tick();
      throw new Error('bad image');
    });
    const next = slot.run(async () => 'ran');
    await expect(failed).rejects.toThrow('bad image');
    expect(await next).toBe('ran');
  });
});
