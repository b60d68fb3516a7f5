import type { Page } from '../main.js';
export const mountTrain: Page = (root) => {
  root.textContent = 'train';
  return () => undefined;
};
