/**
 * The Segment page's image-resolution fieldset: estimate it, µm per pixel, or the objective and camera
 * (split out of segment-options.ts). `read()` gives the µm/px chosen (undefined: estimate), or the error.
 */
import { h } from '../dom.js';
import { DEFAULT_CAMERA_PIXEL_UM, formatMicrons, micronsPerPixelFromObjective } from '../lib/units.js';

const OBJECTIVES = [4, 5, 10, 20, 40, 60, 63, 100];

export interface ResolutionField {
  readonly element: HTMLElement;
  read(): { ok: true; micronsPerPixel?: number } | { ok: false; message: string; control: HTMLElement };
}

export function resolutionField(): ResolutionField {
  // Resolution: estimate / µm per pixel / objective.
  const mode = (v: string, label: string, checked = false) =>
    h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'res-mode', value: v, checked }), label);
  const mppInput = h('input', {
    type: 'number',
    step: 'any',
    min: '0',
    placeholder: 'e.g. 0.65',
    'aria-label': 'micrometres per pixel',
  });
  const objSel = h(
    'select',
    { 'aria-label': 'objective magnification' },
    ...OBJECTIVES.map((m) => h('option', { value: m }, `${m}×`)),
  );
  objSel.value = '20';
  const camInput = h('input', {
    type: 'number',
    step: 'any',
    min: '0',
    value: String(DEFAULT_CAMERA_PIXEL_UM),
    'aria-label': 'camera pixel size in micrometres',
  });
  const binSel = h(
    'select',
    { 'aria-label': 'camera binning' },
    ...[1, 2, 3, 4].map((b) => h('option', { value: b }, `binning ${b}×${b}`)),
  );
  const objResult = h('p', { class: 'help', 'aria-live': 'polite' });
  const mppRow = h(
    'div',
    { class: 'inline', hidden: true },
    mppInput,
    h('span', { class: 'muted' }, 'µm per pixel'),
  );
  const objRow = h(
    'div',
    { hidden: true },
    h('div', { class: 'inline' }, objSel, camInput, binSel),
    objResult,
  );
  const resSet = h(
    'fieldset',
    { 'aria-describedby': 'res-help' },
    h('legend', {}, 'Image resolution'),
    mode('auto', 'Estimate it from the image (segments twice, a little slower)', true),
    mode('mpp', 'I know the pixel size (µm per pixel)'),
    mppRow,
    mode('objective', 'I know the objective magnification'),
    objRow,
    h(
      'p',
      { class: 'help', id: 'res-help' },
      'How big one pixel is in your sample, so nuclei are seen at the size the model learned. Fiji shows it under Image › Properties. ',
      'With the objective: camera pixel size (6.5 µm for most sCMOS cameras) × binning ÷ magnification.',
    ),
  );
  const currentMode = () =>
    resSet.querySelector<HTMLInputElement>('input[name=res-mode]:checked')?.value ?? 'auto';
  const updateRes = () => {
    mppRow.hidden = currentMode() !== 'mpp';
    objRow.hidden = currentMode() !== 'objective';
    try {
      objResult.textContent = `= ${formatMicrons(micronsPerPixelFromObjective(Number(objSel.value), Number(camInput.value), Number(binSel.value)))} µm per pixel`;
    } catch (err) {
      objResult.textContent = (err as Error).message;
    }
  };
  resSet.addEventListener('change', updateRes);
  resSet.addEventListener('input', updateRes);
  updateRes();

  return {
    element: resSet,
    read() {
      const m = currentMode();
      if (m === 'mpp') {
        const v = Number(mppInput.value);
        if (!(mppInput.value !== '' && Number.isFinite(v) && v > 0)) {
          mppInput.setAttribute('aria-invalid', 'true');
          return {
            ok: false,
            message: 'Pixel size: enter a number of µm per pixel greater than 0, e.g. 0.65',
            control: mppInput,
          };
        }
        mppInput.removeAttribute('aria-invalid');
        return { ok: true, micronsPerPixel: v };
      }
      if (m === 'objective') {
        try {
          return {
            ok: true,
            micronsPerPixel: micronsPerPixelFromObjective(
              Number(objSel.value),
              Number(camInput.value),
              Number(binSel.value),
            ),
          };
        } catch (err) {
          return { ok: false, message: `Objective: ${(err as Error).message}`, control: camInput };
        }
      }
      return { ok: true };
    },
  };
}
