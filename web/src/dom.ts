/** A tiny element builder, so pages read as markup without a framework. */

type Child = Node | string | number | null | undefined | false;
type AttrValue = string | number | boolean | null | undefined | ((ev: Event) => void);
export type Attrs = Record<string, AttrValue>;

/**
 * `h('button', { class: 'primary', onclick: go, 'aria-label': 'Start' }, 'Start')`.
 * Keys starting with `on` and a function value add listeners; `value`, `checked`, `disabled` are set as
 * properties; `true` sets an empty attribute; `false`, null and undefined set nothing.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (typeof v === 'function') {
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      continue;
    }
    if (k === 'value' || k === 'checked' || k === 'disabled') {
      (el as unknown as Record<string, unknown>)[k] = v;
      if (k === 'disabled' && v) el.setAttribute('disabled', '');
      continue;
    }
    el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** Replaces an element's children. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Announces a message to screen readers (and shows it in the status line). */
export function announce(text: string): void {
  const live = document.getElementById('announcer');
  if (live) live.textContent = text;
}

/** A field with a visible label and a help text tied to it through aria-describedby. */
export function field(id: string, label: string, control: HTMLElement, help?: string): HTMLElement {
  control.id = id;
  const helpEl = help ? h('p', { class: 'help', id: `${id}-help` }, help) : null;
  if (helpEl) control.setAttribute('aria-describedby', helpEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, helpEl);
}

/** A status pill, e.g. `done`, `failed`, `predicting`. */
export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge badge-${status.replace(/[^a-z-]/g, '')}` }, status);
}

export function progressBar(percent: number, label: string): HTMLElement {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  return h(
    'div',
    {
      class: 'bar',
      role: 'progressbar',
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuenow': p,
      'aria-label': label,
    },
    h('div', { class: 'bar-fill', style: `width:${p}%` }),
  );
}
