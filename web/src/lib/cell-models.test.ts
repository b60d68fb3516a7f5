import { describe, expect, it } from 'vitest';
import type { ModelInfo } from '../api.js';
import { cellModelChoice, cellModelChoices } from './cell-models.js';

/** A model card as GET /v1/models gives it: `labels` its bioimageio labels method, no section when undefined. */
const model = (
  name: string,
  version: string,
  o: { labels?: string | null; channels?: unknown } = {},
): ModelInfo => ({
  name,
  version,
  card: {
    name,
    version: Number(version),
    ...(o.channels !== undefined ? { input: { channels: o.channels } } : {}),
    ...(o.labels !== undefined
      ? { bioimageio: { formatVersion: '0.5.3', ...(o.labels ? { labels: { method: o.labels } } : {}) } }
      : {}),
  },
});

describe('cellModelChoice', () => {
  it('names a foreground import, its method and its one channel (the membrane)', () => {
    expect(cellModelChoice(model('cells-fg', '1', { labels: 'foreground-watershed', channels: 1 }))).toEqual({
      value: 'cells-fg@1',
      label: 'cells-fg v1 — foreground probability (foreground watershed), 1 input channel (membrane)',
    });
  });

  it('names a boundary import taking nuclear + membrane', () => {
    expect(cellModelChoice(model('cells2', '3', { labels: 'boundary-watershed', channels: 2 }))?.label).toBe(
      'cells2 v3 — foreground + boundary probabilities (boundary watershed), 2 input channels (nuclear, membrane)',
    );
  });

  it('keeps an import whose labels method it does not know, by the method name', () => {
    expect(cellModelChoice(model('x', '1', { labels: 'new-method', channels: 1 }))?.label).toBe(
      'x v1 — new-method (new method), 1 input channel (membrane)',
    );
    expect(cellModelChoice(model('y', '1', { labels: null, channels: 2 }))?.label).toBe(
      'y v1 — 2 input channels (nuclear, membrane)',
    );
  });

  it('refuses what the API refuses: not an import, deep-watershed heads, other than 1 or 2 channels', () => {
    expect(cellModelChoice(model('nuclear', '1', { channels: 1 }))).toBeUndefined();
    expect(cellModelChoice(model('heads', '1', { labels: 'deep-watershed', channels: 1 }))).toBeUndefined();
    expect(
      cellModelChoice(model('rgb', '1', { labels: 'foreground-watershed', channels: 3 })),
    ).toBeUndefined();
    expect(cellModelChoice(model('none', '1', { labels: 'foreground-watershed' }))).toBeUndefined();
    expect(cellModelChoice({ name: 'bare', version: '1' })).toBeUndefined();
  });
});

describe('cellModelChoices', () => {
  it('lists the usable ones by name, newest version first (10 after 9), and nothing for none', () => {
    const list = [
      model('nuclear', '1', { channels: 1 }),
      model('zeta', '1', { labels: 'foreground-watershed', channels: 1 }),
      model('alpha', '9', { labels: 'foreground-watershed', channels: 1 }),
      model('alpha', '10', { labels: 'boundary-watershed', channels: 2 }),
    ];
    expect(cellModelChoices(list).map((c) => c.value)).toEqual(['alpha@10', 'alpha@9', 'zeta@1']);
    expect(cellModelChoices(list.slice(0, 1))).toEqual([]);
    expect(cellModelChoices([])).toEqual([]);
  });
});
