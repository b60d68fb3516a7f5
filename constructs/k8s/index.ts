export * from './autoscaler-rbac.js';
export * from './kiosk-chart.js';
export * from './network-policies.js';
export * from './nvidia-device-plugin.js';
export * from './pod-defaults.js';
export * from './redis.js';
export * from './workload.js';
