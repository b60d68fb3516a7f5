import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatDuration,
  formatMicrons,
  micronsPerPixelFromObjective,
  parseChannels,
} from './units.js';

describe('micronsPerPixelFromObjective', () => {
  it('divides the camera pixel (× binning) by the magnification', () => {
    expect(micronsPerPixelFromObjective(20)).toBeCloseTo(0.325, 10);
    expect(micronsPerPixelFromObjective(10, 6.5, 2)).toBeCloseTo(1.3, 10);
    expect(micronsPerPixelFromObjective(40, 3.45)).toBeCloseTo(0.08625, 10);
  });

  it('rejects values that are not > 0, naming them', () => {
    expect(() => micronsPerPixelFromObjective(0)).toThrow(/magnification must be a number > 0, got 0/);
    expect(() => micronsPerPixelFromObjective(20, -1)).toThrow(/camera pixel size must be .* got -1/);
    expect(() => micronsPerPixelFromObjective(20, 6.5, Number.NaN)).toThrow(/binning .* got NaN/);
  });
});

describe('parseChannels', () => {
  it('accepts commas, spaces and semicolons', () => {
    expect(parseChannels('0')).toEqual([0]);
    expect(parseChannels(' 1, 0 ')).toEqual([1, 0]);
    expect(parseChannels('2;3 4')).toEqual([2, 3, 4]);
  });

  it('rejects empty, negative, fractional and repeated channels', () => {
    expect(() => parseChannels('  ')).toThrow(/at least one channel/);
    expect(() => parseChannels('-1')).toThrow(/"-1" is not a whole number/);
    expect(() => parseChannels('1.5')).toThrow(/"1.5" is not a whole number/);
    expect(() => parseChannels('0,0')).toThrow(/channel 0 is listed twice/);
  });
});

describe('formatting', () => {
  it('formats µm/px, sizes and durations', () => {
    expect(formatMicrons(0.325)).toBe('0.325');
    expect(formatMicrons(0.65)).toBe('0.65');
    expect(formatMicrons(1.3)).toBe('1.3');
    expect(formatMicrons(Number.NaN)).toBe('–');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(20 * 2 ** 20)).toBe('20.0 MiB');
    expect(formatBytes(-1)).toBe('–');
    expect(formatDuration(0.42)).toBe('0.4 s');
    expect(formatDuration(12.4)).toBe('12 s');
    expect(formatDuration(185)).toBe('3 min 5 s');
    expect(formatDuration(7260)).toBe('2 h 1 min');
  });
});
