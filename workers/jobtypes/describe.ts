import type { ChannelSpec, JobTypeDefinition, JobTypeOutput } from './types.js';

/** A job type as the API and the web UI show it: its definition less the stages (code); plain JSON. */
export interface JobTypeView {
  readonly name: string;
  readonly description: string;
  readonly defaultModel: string;
  aliases: string[];
  readonly input: {
    channels: ChannelSpec[];
    channelsFromModel: boolean;
    axes: string[];
    dtypes: string[];
  };
  outputs: JobTypeOutput[];
}

/** `def` as data; `kioskDefault`: the model of a type that names none. */
export function describeJobType(def: JobTypeDefinition, kioskDefault: string): JobTypeView {
  return {
    name: def.name,
    description: def.description,
    defaultModel: def.defaultModel ?? kioskDefault,
    aliases: [...(def.aliases ?? [])],
    input: {
      channels: def.input.channels.map((c) => ({ name: c.name, description: c.description })),
      channelsFromModel: def.input.channelsFromModel ?? false,
      axes: [...def.input.axes],
      dtypes: [...def.input.dtypes],
    },
    outputs: def.outputs.map((o) => ({ name: o.name, kind: o.kind, description: o.description })),
  };
}
