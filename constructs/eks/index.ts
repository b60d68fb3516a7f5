export * from './bucket.js';
export * from './cluster.js';
export * from './ebs-csi.js';
export * from './identity.js';
export * from './network.js';
export * from './node-pool.js';
