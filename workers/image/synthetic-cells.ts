/**
 * Synthetic two-channel images of whole cells for tests and benchmarks (issue 21 #3): cells are disks that
 * may press into each other (split as diskLabels splits them), each with a nucleus (a disk at its centre,
 * `nucleusFraction` of its radius). Nuclear channel: 1 in the nuclei; membrane channel: 1 on each cell's
 * border pixels, `cytoplasm` inside, 0 on the background; both plus uniform noise. Deterministic, pure.
 */
import { encodePng } from './png.js';
import { diskLabels, randomDisks, seededRandom } from './synthetic-nuclei.js';
import type { FloatMap, Labels } from './types.js';

export interface SyntheticCellsOptions {
  readonly count: number;
  readonly minR: number;
  readonly maxR: number;
  /** Nucleus radius over cell radius. @default 0.45 */
  readonly nucleusFraction?: number;
  /** Membrane channel inside a cell. @default 0.3 */
  readonly cytoplasm?: number;
  /** Noise amplitude: each pixel of each channel gets a uniform value in [0, noise). @default 0.1 */
  readonly noise?: number;
  /** Centre distance over the sum of radii, below 1 makes cells press into each other. @default 0.85 */
  readonly spacing?: number;
  readonly seed?: number;
}

export interface SyntheticCells {
  /** Truth: cell k and nucleus k share id k. */
  readonly cells: Labels;
  readonly nuclei: Labels;
  readonly nuclear: FloatMap;
  readonly membrane: FloatMap;
}

export function syntheticCells(height: number, width: number, o: SyntheticCellsOptions): SyntheticCells {
  const disks = randomDisks(o.count, height, width, {
    minR: o.minR,
    maxR: o.maxR,
    spacing: o.spacing ?? 0.85,
    seed: o.seed ?? 1,
  });
  const cells = diskLabels(disks, height, width);
  const f = o.nucleusFraction ?? 0.45;
  const nuclei = diskLabels(
    disks.map((d) => ({ ...d, r: Math.max(1, Math.round(d.r * f)) })),
    height,
    width,
  );
  const rand = seededRandom((o.seed ?? 1) + 7919);
  const noise = o.noise ?? 0.1;
  const cyto = o.cytoplasm ?? 0.3;
  const nuclear = new Float32Array(height * width);
  const membrane = new Float32Array(height * width);
  const c = cells.data;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const id = c[i]!;
      let edge = false;
      if (id !== 0)
        for (const [dy, dx] of [
          [-1, 0],
          [1, 0],
          [0, -1],
          [0, 1],
        ] as const) {
          const ny = y + dy;
          const nx = x + dx;
          if (ny >= 0 && ny < height && nx >= 0 && nx < width && c[ny * width + nx] !== id) edge = true;
        }
      membrane[i] = (id === 0 ? 0 : edge ? 1 : cyto) + noise * rand();
      nuclear[i] = (nuclei.data[i] !== 0 ? 1 : 0) + noise * rand();
    }
  }
  return {
    cells,
    nuclei,
    nuclear: { data: nuclear, height, width },
    membrane: { data: membrane, height, width },
  };
}

/**
 * `s` as the file a user would send: a 16-bit RGB PNG, red = the nuclear channel, green = the membrane
 * channel, blue empty (values scaled by 40,000, so noise stays inside 0..65,535). Channels 0 and 1 are what
 * whole-cell takes by default.
 */
export function syntheticCellsPng(s: SyntheticCells): Uint8Array {
  const { height: h, width: w } = s.cells;
  const data = new Uint16Array(h * w * 3);
  for (let i = 0; i < h * w; i++) {
    data[i * 3] = Math.round(s.nuclear.data[i]! * 40000);
    data[i * 3 + 1] = Math.round(s.membrane.data[i]! * 40000);
  }
  return encodePng({ data, dtype: 'uint16', shape: [h, w, 3], axes: 'YXS' });
}
