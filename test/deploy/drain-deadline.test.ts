import { describe, expect, it } from 'vitest';
import { DEFAULT_DRAIN_SECONDS } from '../../src/sidecar/settings.js';
import { deployments, nameOf, podSpecOf, settingsOf, sidecarOf } from './manifests.js';

/** Seconds the sidecar keeps after its drain deadline: cut off, the last capacity window, the flush. */
const FLUSH_SECONDS = 10;

const graceOf = (d: (typeof deployments)[number]): number => podSpecOf(d).terminationGracePeriodSeconds ?? 30;
const pauseOf = (d: (typeof deployments)[number]): number =>
  Number(sidecarOf(d).lifecycle?.preStop?.exec?.command?.at(-1));

describe('vllm-deploy manifests: the sidecar drains inside the grace period', () => {
  it('cuts off what still runs early enough to meter it and flush before the kubelet kills the pod', () => {
    for (const d of deployments) {
      const drainSeconds = settingsOf(d).drainMs / 1000;
      expect(pauseOf(d) + drainSeconds + FLUSH_SECONDS, nameOf(d)).toBeLessThanOrEqual(graceOf(d));
      // and not much earlier: a long request is cut off only when it has to be
      expect(drainSeconds, nameOf(d)).toBeGreaterThanOrEqual(graceOf(d) - pauseOf(d) - 2 * FLUSH_SECONDS);
    }
  });

  it('has a default deadline that fits the shortest grace period of the manifests', () => {
    const shortest = Math.min(...deployments.map((d) => graceOf(d) - pauseOf(d)));
    expect(DEFAULT_DRAIN_SECONDS + FLUSH_SECONDS).toBeLessThanOrEqual(shortest);
  });
});
