import { describe, expect, it } from 'vitest';
import { UsageError } from '../command.js';
import { command } from './autoscale.js';

describe('kiosk autoscale', () => {
  it.each([
    [[], /--driver must be local or kubernetes; got null/],
    [['--driver', 'docker'], /--driver must be local or kubernetes; got "docker"/],
    [['--driver', 'local', '--metrics-port', 'x'], /--metrics-port must be an integer 0..65535; got "x"/],
    [['--driver', 'local', '--bogus'], /Unknown option '--bogus'/],
  ])('usage error for %j', async (args, message) => {
    await expect(command.run(args)).rejects.toThrow(UsageError);
    await expect(command.run(args)).rejects.toThrow(message);
  });

  it('documents the drivers and every environment variable it reads', () => {
    for (const word of [
      'local',
      'kubernetes',
      'REDIS_URL',
      'KIOSK_SCALE_CPU',
      'KIOSK_SCALE_GPU',
      'KIOSK_SCALE_LOG',
      'KIOSK_NAMESPACE',
    ])
      expect(command.usage).toContain(word);
  });
});
