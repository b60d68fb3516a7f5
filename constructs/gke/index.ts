export * from './bucket.js';
export * from './cluster.js';
export * from './identity.js';
export * from './network.js';
export * from './node-pool.js';
export * from './registry.js';
export * from './web-address.js';
