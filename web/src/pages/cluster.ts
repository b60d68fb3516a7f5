import type { Page } from '../main.js';
export const mountCluster: Page = (root) => {
  root.textContent = 'cluster';
  return () => undefined;
};
