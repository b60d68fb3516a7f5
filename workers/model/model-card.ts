/**
 * Builds the card (card.json) of a nuclear model from what training knows. The input contract is the one
 * the training code feeds the network (see network.ts and dataset.ts):
 * - 1 channel, percentile-normalized per image (1 → 0, 99.8 → 1, not clipped);
 * - nuclei rescaled to a median diameter of `targetDiameterPx`;
 * - `mpp` = `typicalNucleusDiameterUm / targetDiameterPx`: the pixel size at which a typical nucleus of that
 *   diameter has the training size (DeepCell's nuclear model uses 0.65 µm/px; 9 µm / 14 px = 0.643).
 */
import type { ModelCard, ModelPostprocess } from './model-io.js';
import { resolveNetworkConfig, type NetworkConfig } from './network.js';

/** Typical mammalian nucleus diameter (µm) used to turn the training diameter into µm/px. */
export const TYPICAL_NUCLEUS_DIAMETER_UM = 9;

export interface NuclearCardFacts {
  readonly name: string;
  readonly version: number;
  readonly network: NetworkConfig;
  readonly params: number;
  readonly targetDiameterPx: number;
  readonly postprocess?: ModelPostprocess;
  readonly training?: Readonly<Record<string, unknown>>;
  readonly validation?: Readonly<Record<string, unknown>>;
  readonly [extra: string]: unknown;
}

export function nuclearCard(facts: NuclearCardFacts): ModelCard {
  const network = resolveNetworkConfig(facts.network);
  const { name, version, params, targetDiameterPx, network: _n, ...rest } = facts;
  return {
    name,
    version,
    task: 'nuclear-segmentation',
    input: {
      channels: network.channels,
      normalization: { method: 'percentile', low: 1, high: 99.8 },
      targetDiameterPx,
      mpp: Number((TYPICAL_NUCLEUS_DIAMETER_UM / targetDiameterPx).toFixed(4)),
      typicalNucleusDiameterUm: TYPICAL_NUCLEUS_DIAMETER_UM,
      sizeMultiple: 2 ** network.depth,
    },
    outputs: ['inner', 'outer', 'fgbg'],
    network,
    params,
    ...rest,
  };
}
