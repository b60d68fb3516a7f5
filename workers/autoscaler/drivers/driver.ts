/** What the autoscaler loop needs from a place where worker replicas run. */
export interface ScaleDriver {
  /** `local` or `kubernetes` (logged with every decision). */
  readonly name: string;
  /**
   * Replicas of a pool the policy should count as current: for Kubernetes the Deployment's `spec.replicas`;
   * locally the worker processes not draining.
   */
  replicas(pool: string): Promise<number>;
  /**
   * Replicas actually up (Kubernetes: `status.replicas` of the scale subresource; locally: live processes,
   * draining ones included). Exported as the `actual` metric.
   */
  actual(pool: string): Promise<number>;
  /** Asks for `replicas` workers of `pool`. Scaling down drains (a worker finishes its job first). */
  scale(pool: string, replicas: number): Promise<void>;
  /** Passes a signal to every worker it started (local driver only; e.g. a second Ctrl-C). */
  signalWorkers?(signal: NodeJS.Signals): void;
  /** Releases what the driver holds (the local driver drains all its workers). */
  close(): Promise<void>;
}
