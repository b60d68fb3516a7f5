import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  multipart,
  startTestService,
  startWorkerPools,
  type TestService,
} from './service-harness.test-helpers.js';
import { NUCLEI_VAL } from '../test/data.js';

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.close();
  svc = undefined;
});

/** Reads server-sent events until `until` accepts one; returns them all. */
async function readEvents(
  url: string,
  until: (ev: { event: string; data: Record<string, unknown> }) => boolean,
  timeoutMs = 20_000,
) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  const res = await fetch(url, { signal: ctrl.signal });
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const events: { event: string; data: Record<string, unknown> }[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  try {
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!event || !data) continue;
        const ev = { event, data: JSON.parse(data) as Record<string, unknown> };
        events.push(ev);
        if (until(ev)) return events;
      }
    }
  } finally {
    clearTimeout(timer);
    ctrl.abort();
  }
  return events;
}

describe('server-sent events', () => {
  it("streams a snapshot, then every status of a batch and its children's until done", async () => {
    svc = await startTestService(inject('redisUrl'), { listen: true, pools: false });
    const png = await readFile(`${NUCLEI_VAL}/dsb_03398329ced0c23b.image.png`);
    const up = await svc.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      ...(await multipart([
        ['file', 'a.png', png],
        ['file', 'b.png', png],
      ])),
    });
    const keys = (up.json() as { uploads: { key: string }[] }).uploads.map((u) => u.key);
    const job = (
      await svc.app.inject({ method: 'POST', url: '/v1/jobs', payload: { inputs: keys } })
    ).json() as { id: string; children: { id: string }[] };
    const got = readEvents(
      `${svc.url}/v1/jobs/${job.id}/events`,
      (ev) => ev.data.id === job.id && ev.data.status === 'done',
    );
    const all = readEvents(
      `${svc.url}/v1/events`,
      (ev) => ev.data.id === job.id && ev.data.status === 'done',
    );
    await new Promise((r) => setTimeout(r, 200)); // both streams connected before the workers start
    const pools = startWorkerPools(svc.services);
    try {
      const events = await got;
      expect(events[0]!.event).toBe('snapshot');
      expect(events[0]!.data).toMatchObject({ id: job.id, status: 'waiting', kind: 'batch' });
      const childStatuses = events
        .filter((e) => e.data.id === job.children[0]!.id && e.data.status)
        .map((e) => e.data.status);
      expect(childStatuses).toEqual([
        'started',
        'pre-processing',
        'predicting',
        'post-processing',
        'saving-results',
        'done',
      ]);
      expect(events.at(-1)!.data).toMatchObject({ id: job.id, status: 'done', progress: 100 });
      expect((await all).some((e) => e.data.id === job.children[1]!.id)).toBe(true);
    } finally {
      await Promise.all(pools.map((p) => p.close(true)));
    }
  });
});
