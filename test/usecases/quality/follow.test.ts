import { describe, expect, it } from 'vitest';
import { MemoryModelRegistry } from '../../../src/adapters/memory/memory-model-registry.js';
import { followJobs } from '../../../src/usecases/quality/follow.js';
import { retrainOnFailure } from '../../../src/usecases/quality/retrain.js';
import { cardTitles, evaluation, failedOnQuality, retrainSetup } from './fixture.js';

const HOUR = 3_600_000;

async function submitted() {
  const setup = retrainSetup();
  const outcome = await retrainOnFailure(failedOnQuality(), setup.deps);
  const name = outcome.job?.name;
  if (name === undefined) throw new Error(`no job: ${outcome.reason ?? ''}`);
  return { ...setup, name };
}

describe('followJobs', () => {
  it('charges a finished job nodes × GPUs × the time it was seen running × the price, once', async () => {
    const { deps, clock, jobs, store, name, posted } = await submitted();
    clock.advance(HOUR / 4);
    jobs.advance(name, 'Running');
    await followJobs(deps);
    expect((await store.job(name))?.value.runningSince).toBe('2026-11-20T09:15:00.000Z');
    clock.set('2026-11-20T13:10:00Z');
    jobs.advance(name, 'Completed');
    clock.set('2026-11-20T13:15:00Z');
    const outcome = await followJobs(deps);
    expect(outcome.ended).toEqual([name]);
    const record = (await store.job(name))?.value;
    // 2 nodes × 4 GPUs × 3 h 55 min = 112,800 GPU-seconds at $14.692 / 4 GPUs / 3600 s = $115.09.
    expect(record?.gpuSeconds).toBe(112_800);
    expect(record?.costMicroUsd).toBe(115_087_333);
    expect(cardTitles(posted).at(-1)).toContain('Retraining completed: llama-3-8b');
    await followJobs(deps);
    expect(posted).toHaveLength(2);
  });

  it("registers a completed job's output once, under the job's name as its version, and a failed job's never", async () => {
    const { deps, clock, jobs, name } = await submitted();
    const registry = new MemoryModelRegistry();
    const lines: string[] = [];
    const following = { ...deps, registry, log: (m: string) => lines.push(m) };
    jobs.advance(name, 'Running');
    await followJobs(following);
    expect(registry.creates).toBe(0);
    clock.advance(HOUR);
    jobs.advance(name, 'Completed');
    await followJobs(following);
    await followJobs(following);
    expect(registry.creates).toBe(1);
    const version = await registry.get('llama-3-8b', name);
    expect(version).toMatchObject({ model: 'llama-3-8b', version: name, jobName: name });
    expect(version?.modelUri).toContain(name);
    expect(lines.some((l) => l.includes(`registered as llama-3-8b version ${name}`))).toBe(true);

    const failed = await submitted();
    const none = new MemoryModelRegistry();
    failed.jobs.advance(failed.name, 'Failed');
    await followJobs({ ...failed.deps, registry: none });
    expect(none.creates).toBe(0);
  });

  it('marks the days the job ran for reporting', async () => {
    const { deps, clock, jobs, ledger, name } = await submitted();
    jobs.advance(name, 'Running');
    await followJobs(deps);
    clock.set('2026-11-21T02:00:00Z');
    jobs.advance(name, 'Completed');
    clock.set('2026-11-21T03:00:00Z');
    await followJobs(deps);
    const dirty = (await ledger.dirtyDays('2026-11-01')).map((d) => d.day);
    expect(dirty).toEqual(['2026-11-20', '2026-11-21']);
  });

  it('releases the slot when the job ends, and the cooldown runs from there', async () => {
    const { deps, clock, jobs, store, name } = await submitted();
    jobs.advance(name, 'Running');
    await followJobs(deps);
    clock.set('2026-11-20T10:00:00Z');
    jobs.advance(name, 'Failed');
    clock.advance(HOUR);
    await followJobs(deps);
    expect((await store.state()).value.models['llama-3-8b']?.endedAt).toBe('2026-11-20T10:00:00.000Z');
  });

  it('charges nothing for a job that failed without ever being seen running, and says so', async () => {
    const { deps, jobs, store, name, posted } = await submitted();
    jobs.advance(name, 'Failed');
    await followJobs(deps);
    expect((await store.job(name))?.value).toMatchObject({
      status: 'Failed',
      gpuSeconds: 0,
      costMicroUsd: 0,
    });
    expect(JSON.stringify(posted.at(-1))).toContain('never seen running');
  });

  it('follows a NotResponding job on: the model keeps its slot and gets no second job', async () => {
    const { deps, clock, jobs, store, name } = await submitted();
    jobs.advance(name, 'Running');
    await followJobs(deps);
    clock.advance(HOUR);
    jobs.advance(name, 'NotResponding');
    expect((await followJobs(deps)).ended).toEqual([]);
    expect((await store.job(name))?.value).toMatchObject({ status: 'NotResponding' });
    expect((await store.job(name))?.value.endedAt).toBeUndefined();
    const again = await retrainOnFailure(failedOnQuality(evaluation({ eventId: 'eval-2' })), deps);
    expect(again).toEqual({ job: null, reason: expect.stringMatching(/still running/) as string });
    expect(jobs.creates).toBe(1);
  });

  it('charges a job that came back from NotResponding for all its time when it ends', async () => {
    const { deps, clock, jobs, store, name } = await submitted();
    jobs.advance(name, 'Running');
    await followJobs(deps);
    clock.advance(HOUR);
    jobs.advance(name, 'NotResponding');
    await followJobs(deps);
    clock.advance(HOUR);
    jobs.advance(name, 'Running');
    await followJobs(deps);
    clock.advance(HOUR);
    jobs.advance(name, 'Completed');
    expect((await followJobs(deps)).ended).toEqual([name]);
    // 2 nodes × 4 GPUs × 3 h from the first sighting running.
    expect((await store.job(name))?.value.gpuSeconds).toBe(86_400);
  });

  it('starts the GPU-time of a job first seen NotResponding: it had started to stop answering', async () => {
    const { deps, clock, jobs, store, name } = await submitted();
    clock.advance(HOUR);
    jobs.advance(name, 'NotResponding');
    await followJobs(deps);
    expect((await store.job(name))?.value.runningSince).toBe('2026-11-20T10:00:00.000Z');
  });

  it('follows a job in a status it does not know on, and submits no second job for its model', async () => {
    const { deps, jobs, store, name } = await submitted();
    jobs.advance(name, 'SomeFutureStatus');
    expect((await followJobs(deps)).ended).toEqual([]);
    expect((await store.state()).value.models['llama-3-8b']?.endedAt).toBeUndefined();
    await retrainOnFailure(failedOnQuality(evaluation({ eventId: 'eval-2' })), deps);
    expect(jobs.creates).toBe(1);
  });

  it('gives back a slot whose job record was never written, after the grace period', async () => {
    const { deps, clock, store } = retrainSetup();
    await store.putState(
      {
        models: {
          'llama-3-8b': {
            job: 'lost',
            since: '2026-11-20T09:00:00.000Z',
            month: '2026-11',
            estimateMicroUsd: 5,
          },
        },
        months: { '2026-11': 5 },
      },
      undefined,
    );
    expect((await followJobs(deps)).abandoned).toEqual([]);
    clock.advance(HOUR);
    expect((await followJobs(deps)).abandoned).toEqual(['lost']);
    expect((await store.state()).value).toEqual({ models: {}, months: { '2026-11': 0 } });
  });
});
