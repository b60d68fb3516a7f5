import type { Page } from '../main.js';
export const mountJobs: Page = (root) => {
  root.textContent = 'jobs';
  return () => undefined;
};
