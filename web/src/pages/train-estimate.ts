/**
 * The Train page's time estimate, shown under the parameters before a training starts (issue 23 #4: the
 * defaults take hours on a CPU kiosk): the form's size at this kiosk's measured speed (its newest
 * training with a finished epoch, same batch and crop preferred) or, before any, FALLBACK_SPEED, said so;
 * and the quick setting button that fills the form with a short run.
 */
import { h, replace } from '../dom.js';
import {
  estimateSeconds,
  FALLBACK_SPEED,
  QUICK_SIZE,
  speedFromTrainings,
  SPEED_CROP_PX,
  type TrainingSize,
  type TrainingSpeed,
  type TrainingView,
} from '../lib/training.js';
import { formatDuration } from '../lib/units.js';

/** Above this the estimate suggests the quick setting. */
const LONG_S = 30 * 60;

export interface EstimatePanel {
  readonly element: HTMLElement;
  readonly quickButton: HTMLButtonElement;
  /** The kiosk's trainings (newest first), whose finished epochs measure its speed. */
  setTrainings(list: readonly TrainingView[]): void;
}

export function estimatePanel(inputs: {
  readonly epochs: HTMLInputElement;
  readonly steps: HTMLInputElement;
  readonly batch: HTMLInputElement;
  readonly crop: HTMLInputElement;
}): EstimatePanel {
  const { epochs, steps, batch, crop } = inputs;
  const estimate = h('p', { class: 'help', 'data-testid': 'train-estimate', 'aria-live': 'polite' });
  const quickButton = h(
    'button',
    { type: 'button', class: 'small', 'data-testid': 'quick-setting' },
    `Quick setting (${QUICK_SIZE.epochs} epochs × ${QUICK_SIZE.stepsPerEpoch} steps × ${QUICK_SIZE.batchSize} crops)`,
  );
  let trainings: readonly TrainingView[] = [];
  const sizeOf = (): TrainingSize | undefined => {
    const v = [epochs, steps, batch, crop].map((el) => Number(el.value));
    if (!v.every((x) => Number.isInteger(x) && x > 0)) return undefined;
    return { epochs: v[0]!, stepsPerEpoch: v[1]!, batchSize: v[2]!, cropSize: v[3]! };
  };
  const update = () => {
    const size = sizeOf();
    if (!size) {
      estimate.textContent = 'Estimated time: give whole numbers above 0 for epochs, steps, batch and crop.';
      delete estimate.dataset.seconds;
      return;
    }
    const speed: TrainingSpeed = speedFromTrainings(trainings, size) ?? FALLBACK_SPEED;
    const secs = estimateSeconds(size, speed);
    const crops = size.epochs * size.stepsPerEpoch * size.batchSize;
    estimate.dataset.seconds = String(Math.round(secs));
    estimate.dataset.measuredHere = String(speed.measuredHere);
    const quick = estimateSeconds(QUICK_SIZE, speed);
    replace(
      estimate,
      h('strong', {}, `Estimated time: about ${formatDuration(secs)}`),
      ` for ${size.epochs} epochs × ${size.stepsPerEpoch} steps × ${size.batchSize} crops of ${size.cropSize} px (${crops.toLocaleString('en')} crops), at ${speed.cropsPerSecond.toPrecision(3)} crops of ${SPEED_CROP_PX} px per second, ${speed.source}. An estimate: other work on the machine changes it.`,
      secs > LONG_S && quick < secs
        ? h(
            'span',
            { class: 'warn-text' },
            ` That is long: the quick setting (about ${formatDuration(quick)}) tries the data out first.`,
          )
        : '',
    );
  };
  for (const el of [epochs, steps, batch, crop]) el.addEventListener('input', update);
  quickButton.addEventListener('click', () => {
    epochs.value = String(QUICK_SIZE.epochs);
    steps.value = String(QUICK_SIZE.stepsPerEpoch);
    batch.value = String(QUICK_SIZE.batchSize);
    crop.value = String(QUICK_SIZE.cropSize);
    update();
  });
  update();
  return {
    element: estimate,
    quickButton,
    setTrainings(list) {
      trainings = list;
      update();
    },
  };
}
