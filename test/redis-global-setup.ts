import type { TestProject } from 'vitest/node';
import { startPrivateRedis, type PrivateRedis } from './redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let redis: PrivateRedis | undefined;

/** Starts one private redis-server for the test run; tests read its URL with `inject('redisUrl')`. */
export async function setup(project: TestProject): Promise<void> {
  redis = await startPrivateRedis();
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
}
