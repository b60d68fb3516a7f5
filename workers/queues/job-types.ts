/**
 * Job types the service runs. `segmentation` is the DeepCell Kiosk's; training (issue 5) will add its own.
 * `defaultModel` is used when a request names no model.
 */
export interface JobType {
  readonly name: string;
  readonly description: string;
  readonly defaultModel: string;
}

export function jobTypes(defaultSegmentationModel: string): JobType[] {
  return [
    {
      name: 'segmentation',
      description: 'nuclear segmentation: one label image per input image (0 = background, 1..N = nuclei)',
      defaultModel: defaultSegmentationModel,
    },
  ];
}
