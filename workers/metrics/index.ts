export * from './kiosk-metrics.js';
export * from './worker-metrics.js';
export * from './serve.js';
export * from './shared.js';
