import { describe, expect, it } from 'vitest';
import { byLabel, parsePrometheus, ratePerMinute, select } from './prometheus.js';

const TEXT = `# HELP kiosk_queue_jobs Jobs in each pipeline queue by state
# TYPE kiosk_queue_jobs gauge
kiosk_queue_jobs{queue="preprocess",state="waiting"} 12
kiosk_queue_jobs{queue="preprocess",state="active"} 1
kiosk_queue_jobs{queue="predict",state="waiting"} 3
kiosk_queue_jobs{queue="predict",state="completed"} 40 1700000000000
kiosk_http_requests_total{method="GET",route="/v1/jobs",status="200"} 5
weird{path="a\\"b\\\\c\\nd"} NaN
up 1
up_inf +Inf
broken{queue="x"
bad_value{a="b"} twelve
`;

describe('parsePrometheus', () => {
  it('reads samples with labels, timestamps, escapes and special values; skips broken lines', () => {
    const m = parsePrometheus(TEXT);
    expect(m.skipped).toBe(2);
    expect(select(m, 'kiosk_queue_jobs', { queue: 'predict', state: 'completed' })).toEqual([
      { name: 'kiosk_queue_jobs', labels: { queue: 'predict', state: 'completed' }, value: 40 },
    ]);
    expect(select(m, 'weird')[0]!.labels.path).toBe('a"b\\c\nd');
    expect(Number.isNaN(select(m, 'weird')[0]!.value)).toBe(true);
    expect(select(m, 'up')[0]).toEqual({ name: 'up', labels: {}, value: 1 });
    expect(select(m, 'up_inf')[0]!.value).toBe(Number.POSITIVE_INFINITY);
    expect(parsePrometheus('')).toEqual({ samples: [], skipped: 0 });
  });

  it('groups one metric by a label, filtered by others', () => {
    const m = parsePrometheus(TEXT);
    expect([...byLabel(m, 'kiosk_queue_jobs', 'queue', { state: 'waiting' })]).toEqual([
      ['preprocess', 12],
      ['predict', 3],
    ]);
    expect(byLabel(m, 'nope', 'queue').size).toBe(0);
  });
});

describe('ratePerMinute', () => {
  it('is the count difference per minute, undefined when it cannot be known', () => {
    const before = new Map([
      ['predict', 10],
      ['pack', 5],
    ]);
    const after = new Map([
      ['predict', 40],
      ['pack', 2],
      ['new', 1],
    ]);
    expect([...ratePerMinute(before, after, 30)]).toEqual([
      ['predict', 60],
      ['pack', undefined],
      ['new', undefined],
    ]);
    expect(ratePerMinute(before, after, 0).get('predict')).toBeUndefined();
  });
});
