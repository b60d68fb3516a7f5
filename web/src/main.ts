/**
 * The web UI's entry: a hash router over the pages (#/segment, #/viewer/<job>[/<child>], #/jobs, #/train,
 * #/models, #/cluster). Each page mounts into <main> and returns a function that unmounts it.
 */
import { JobStore } from './store.js';
import { mountCluster } from './pages/cluster.js';
import { mountJobs } from './pages/jobs.js';
import { mountModels } from './pages/models.js';
import { mountSegment } from './pages/segment.js';
import { mountTrain } from './pages/train.js';
import { mountViewer } from './pages/viewer.js';

export interface PageContext {
  readonly store: JobStore;
  /** Path segments after the page name (e.g. the job id of #/viewer/<id>). */
  readonly args: readonly string[];
}

export type Page = (root: HTMLElement, ctx: PageContext) => () => void;

const PAGES: Record<string, { title: string; mount: Page }> = {
  segment: { title: 'Segment', mount: mountSegment },
  viewer: { title: 'Viewer', mount: mountViewer },
  jobs: { title: 'Jobs', mount: mountJobs },
  train: { title: 'Train', mount: mountTrain },
  models: { title: 'Models', mount: mountModels },
  cluster: { title: 'Cluster', mount: mountCluster },
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

/** `moveFocus`: after a navigation (not the first load), focus <main> so keyboard and screen-reader users start at the page. */
function route(moveFocus = false): void {
  const [name = 'segment', ...args] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const page = PAGES[name] ?? PAGES.segment!;
  const key = PAGES[name] ? name : 'segment';
  unmount?.();
  const main = document.getElementById('main')!;
  main.replaceChildren();
  document.title = `${page.title} · cellkiosk`;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (a.dataset.page === key) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  unmount = page.mount(main, { store, args: args.filter((a) => a !== '') });
  if (moveFocus) main.focus();
}

window.addEventListener('hashchange', () => route(true));
route();
