/**
 * The Segment page's "Cells from" field, shown for job type `whole-cell` only: the classical second stage
 * (Otsu + Propagate on the membrane channel, no `cellModel` sent) or a model imported from bioimage.io that
 * gives the cells' foreground (../lib/cell-models.ts says which imports qualify). The chosen import goes
 * into the job's options as `cellModel: "name@version"`.
 */
import type { ModelInfo } from '../api.js';
import { h, replace } from '../dom.js';
import { cellModelChoices, type CellModelChoice } from '../lib/cell-models.js';

/** The job type that takes a `cellModel`. */
export const CELL_MODEL_TYPE = 'whole-cell';

const CLASSICAL = 'membrane channel (classical: Otsu + Propagate)';
const HELP =
  'How the cells around the nuclei are found: from the membrane channel (Otsu threshold, then each nucleus grows along the membrane image), or by a whole-cell model imported from bioimage.io.';
const NONE_HELP =
  'No imported whole-cell model yet: import a bioimage.io package whose outputs are a cell foreground (with or without boundaries) on the Models page to choose it here.';

export interface CellModelField {
  readonly element: HTMLElement;
  /** Lists the usable imports of `models` (keeps the choice when it is still listed). */
  setModels(models: readonly ModelInfo[]): void;
  /** Shows the field for `whole-cell`, hides (and ignores) it for any other type. */
  showFor(type: string): void;
  /** `name@version` of the chosen import; undefined for the classical stage or when hidden. */
  read(): string | undefined;
}

export function cellModelField(): CellModelField {
  const select = h(
    'select',
    { id: 'cell-model', 'aria-describedby': 'cell-model-help cell-model-none' },
    h('option', { value: '' }, CLASSICAL),
  );
  const help = h('p', { class: 'help', id: 'cell-model-help' }, HELP);
  const none = h('p', { class: 'help', id: 'cell-model-none', 'data-testid': 'cell-model-none' }, NONE_HELP);
  const element = h(
    'div',
    { class: 'field', hidden: true, 'data-testid': 'cell-model-field' },
    h('label', { for: 'cell-model' }, 'Cells from'),
    select,
    help,
    none,
  );
  let choices: CellModelChoice[] = [];
  /** The help names the chosen import in full (a closed select cuts its label). */
  const describe = () => {
    const c = choices.find((x) => x.value === select.value);
    help.textContent = c
      ? `${c.label}. The cells come from its prediction; the model above still finds the nuclei.`
      : HELP;
  };
  select.addEventListener('change', describe);
  return {
    element,
    setModels(models) {
      const kept = select.value;
      choices = cellModelChoices(models);
      replace(
        select,
        h('option', { value: '' }, CLASSICAL),
        ...choices.map((c) => h('option', { value: c.value }, c.label)),
      );
      select.value = choices.some((c) => c.value === kept) ? kept : '';
      describe();
      none.hidden = choices.length > 0;
      select.setAttribute('aria-describedby', none.hidden ? help.id : `${help.id} ${none.id}`);
    },
    showFor(type) {
      element.hidden = type !== CELL_MODEL_TYPE;
    },
    read() {
      return element.hidden || !select.value ? undefined : select.value;
    },
  };
}
