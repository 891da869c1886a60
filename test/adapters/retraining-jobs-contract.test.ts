import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmlJobs } from '../../src/adapters/azure-ml/aml-jobs.js';
import { MemoryRetrainingJobs } from '../../src/adapters/memory/memory-retraining-jobs.js';
import { PermanentError } from '../../src/domain/errors.js';
import type { RetrainingJobs } from '../../src/ports/retraining-jobs.js';
import { startAmlStandIn, type AmlStandIn } from '../../dev/aml-stand-in.js';
import { RESOURCE_GROUP, sampleJob, SUBSCRIPTION, WORKSPACE } from '../helpers/retraining.js';

interface Subject {
  readonly jobs: RetrainingJobs;
  /** Ends a job as Azure ML would. */
  finish(name: string, status: string): void;
}

let evaluations = 0;
/** A job of its own for each test, so the adapters' state never carries from one to the next. */
const freshJob = (): ReturnType<typeof sampleJob> => sampleJob(`eval-${String(++evaluations)}`);

/** One contract, two adapters: what retraining relies on to read before it creates, and to cancel. */
function contract(name: string, make: () => Subject): void {
  describe(`retraining jobs contract: ${name}`, () => {
    it('reads a job that does not exist as undefined', async () => {
      expect(await make().jobs.get(freshJob().name)).toBeUndefined();
    });

    it('creates a job that is Queued, not terminal, with its lineage tags', async () => {
      const job = freshJob();
      const state = await make().jobs.create(job.name, job.body);
      expect(state).toMatchObject({ name: job.name, status: 'Queued', terminal: false, tags: job.body.tags });
    });

    it('reads a created job back as it was created, creation time included', async () => {
      const { jobs } = make();
      const job = freshJob();
      const created = await jobs.create(job.name, job.body);
      expect(await jobs.get(job.name)).toEqual(created);
    });

    it('reads an ended job as terminal', async () => {
      const subject = make();
      const job = freshJob();
      await subject.jobs.create(job.name, job.body);
      subject.finish(job.name, 'Failed');
      expect(await subject.jobs.get(job.name)).toMatchObject({ status: 'Failed', terminal: true });
    });

    it('reads a NotResponding job as not ended, and can still cancel it', async () => {
      const subject = make();
      const job = freshJob();
      await subject.jobs.create(job.name, job.body);
      subject.finish(job.name, 'NotResponding');
      expect(await subject.jobs.get(job.name)).toMatchObject({ status: 'NotResponding', terminal: false });
      await subject.jobs.cancel(job.name);
      expect(await subject.jobs.get(job.name)).toMatchObject({ status: 'Canceled', terminal: true });
    });

    it('cancels a running job: it then reads Canceled', async () => {
      const { jobs } = make();
      const job = freshJob();
      await jobs.create(job.name, job.body);
      await jobs.cancel(job.name);
      expect(await jobs.get(job.name)).toMatchObject({ status: 'Canceled', terminal: true });
    });

    it('leaves an ended job as it is when asked to cancel it', async () => {
      const subject = make();
      const job = freshJob();
      await subject.jobs.create(job.name, job.body);
      subject.finish(job.name, 'Completed');
      await subject.jobs.cancel(job.name);
      expect((await subject.jobs.get(job.name))?.status).toBe('Completed');
    });

    it('refuses to cancel a job that does not exist with a PermanentError', async () => {
      await expect(make().jobs.cancel(freshJob().name)).rejects.toBeInstanceOf(PermanentError);
    });
  });
}

contract('memory', () => {
  const jobs = new MemoryRetrainingJobs();
  return {
    jobs,
    finish: (name, status) => {
      jobs.advance(name, status);
    },
  };
});

let standIn: AmlStandIn;
beforeAll(async () => {
  standIn = await startAmlStandIn();
});
afterAll(async () => {
  await standIn.close();
});

contract('Azure ML (SDK against the loopback stand-in)', () => ({
  jobs: new AmlJobs({
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RESOURCE_GROUP,
    workspace: WORKSPACE,
    endpoint: standIn.url,
    credential: {
      getToken: () => Promise.resolve({ token: standIn.token, expiresOnTimestamp: Date.now() + 3_600_000 }),
    },
  }),
  finish: (name, status) => {
    standIn.finish(name, status);
  },
}));
