import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const kiosk = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, ['bin/kiosk.mjs', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });

describe('kiosk start --role (one process per pod in the cluster)', () => {
  it('refuses an unknown role with the list of roles', () => {
    const r = kiosk(['start', '--role', 'nope']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /--role must be one of api, cpu-worker, gpu-worker, trainer, autoscaler; got 'nope'/,
    );
  });

  it('runs the role in the foreground and passes its exit code on (api without REDIS_URL fails at boot)', () => {
    const env = { ...process.env };
    delete env.REDIS_URL;
    const r = spawnSync(process.execPath, ['bin/kiosk.mjs', 'start', '--role=api'], {
      encoding: 'utf8',
      env,
      timeout: 60_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/REDIS_URL/);
  });

  it("checks the local kiosk's worker ranges before starting anything", () => {
    const flag = kiosk(['start', '--gpu-workers', '2..1']);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(
      /--gpu-workers must be MAX or MIN\.\.MAX with 1 <= MAX and MIN <= MAX \(e\.g\. 4 or 0\.\.2\); got "2\.\.1"/,
    );
    const env = kiosk(['start'], { KIOSK_CPU_WORKERS: 'many' });
    expect(env.status).toBe(2);
    expect(env.stderr).toMatch(/KIOSK_CPU_WORKERS must be MAX or MIN\.\.MAX .*; got "many"/);
    expect(kiosk(['start', '--cpu-workers', '0']).stderr).toMatch(/--cpu-workers must be .*; got "0"/);
  });
});
