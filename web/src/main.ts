/**
 * The web UI's entry: a hash router over the pages (#/segment, #/viewer/<job>[/<child>], #/jobs, #/train,
 * #/models, #/cluster); any other route shows a not-found message with links to the pages. Each page mounts into <main> and returns a function that unmounts it.
 */
import { h } from './dom.js';
import { JobStore } from './store.js';
import { mountCluster } from './pages/cluster.js';
import { mountJobs } from './pages/jobs.js';
import { mountModels } from './pages/models.js';
import { mountSegment } from './pages/segment.js';
import { mountTrain } from './pages/train.js';
import { mountViewer } from './pages/viewer.js';
import type { Page } from './page.js';

const PAGES: Record<string, { title: string; about: string; mount: Page }> = {
  segment: { title: 'Segment', about: 'segment images', mount: mountSegment },
  viewer: { title: 'Viewer', about: 'look at a result over its image', mount: mountViewer },
  jobs: { title: 'Jobs', about: 'every job, its results and downloads', mount: mountJobs },
  train: { title: 'Train', about: 'train or fine-tune a model', mount: mountTrain },
  models: { title: 'Models', about: 'the models and what they are for', mount: mountModels },
  cluster: { title: 'Cluster', about: 'workers and the autoscaler', mount: mountCluster },
};

const store = new JobStore();
store.connect();
const streamEl = document.getElementById('stream-state')!;
const STREAM_TEXT = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  unavailable: 'updates unavailable',
} as const;
store.subscribe(() => {
  streamEl.textContent = STREAM_TEXT[store.stream];
  streamEl.dataset.state = store.stream;
});

let unmount: (() => void) | undefined;

/** What an unknown route (e.g. #/nonsense) shows: says so and links every page, instead of silently showing one. */
function notFound(root: HTMLElement, name: string): () => void {
  root.append(
    h('h1', {}, 'Page not found'),
    h(
      'p',
      { class: 'notice bad', 'data-testid': 'not-found' },
      `There is no page called “${name}” (address ${location.hash}). The pages are:`,
    ),
    h(
      'ul',
      { 'aria-label': 'Pages' },
      ...Object.entries(PAGES).map(([key, p]) =>
        h('li', {}, h('a', { href: `#/${key}` }, p.title), ' — ', h('span', { class: 'muted' }, p.about)),
      ),
    ),
  );
  return () => undefined;
}

/**
 * Marks the one navigation link of the page shown (`aria-current="page"`, which the style highlights) and
 * clears every other; an unknown route marks none.
 */
function markNav(key: string | undefined): void {
  for (const a of document.querySelectorAll<HTMLAnchorElement>('header nav a')) {
    if (key !== undefined && a.dataset.page === key) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** `moveFocus`: after a navigation (not the first load), focus <main> so keyboard and screen-reader users start at the page. */
function route(moveFocus = false): void {
  const [first = '', ...args] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const name = first === '' ? 'segment' : first;
  const page = Object.hasOwn(PAGES, name) ? PAGES[name] : undefined;
  unmount?.();
  const main = document.getElementById('main')!;
  main.replaceChildren();
  document.title = `${page?.title ?? 'Page not found'} · cellkiosk`;
  markNav(page ? name : undefined);
  unmount = page ? page.mount(main, { store, args: args.filter((a) => a !== '') }) : notFound(main, name);
  if (moveFocus) main.focus();
}

// The skip link moves focus to <main> without changing the route (its #main is no page).
document.querySelector<HTMLAnchorElement>('a.skip')?.addEventListener('click', (e) => {
  e.preventDefault();
  document.getElementById('main')!.focus();
});
window.addEventListener('hashchange', () => route(true));
route();
