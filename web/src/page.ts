/** What a page of the web UI is: the router (main.ts) mounts one; the pages (pages/*.ts) implement it. */
import type { JobStore } from './store.js';

export interface PageContext {
  readonly store: JobStore;
  /** Path segments after the page name (e.g. the job id of #/viewer/<id>). */
  readonly args: readonly string[];
}

/** Mounts a page into `root` and returns the function that unmounts it. */
export type Page = (root: HTMLElement, ctx: PageContext) => () => void;
