import { describe, expect, it } from 'vitest';
import { MemoryRetrainingJobs } from '../../src/adapters/memory/memory-retraining-jobs.js';
import { PermanentError } from '../../src/domain/errors.js';
import { sampleJob } from '../helpers/retraining.js';

const job = sampleJob();

describe('MemoryRetrainingJobs', () => {
  it('counts the jobs it creates', async () => {
    const jobs = new MemoryRetrainingJobs();
    await jobs.create(job.name, job.body);
    await jobs.create(sampleJob('eval-other').name, job.body);
    expect(jobs.creates).toBe(2);
  });

  it('refuses a second job of the same name with a 409-like PermanentError, and does not count it', async () => {
    const jobs = new MemoryRetrainingJobs();
    await jobs.create(job.name, job.body);
    await expect(jobs.create(job.name, job.body)).rejects.toThrow(PermanentError);
    expect(jobs.creates).toBe(1);
  });

  it('keeps the body it was given, as it was given', async () => {
    const jobs = new MemoryRetrainingJobs();
    await jobs.create(job.name, job.body);
    expect(jobs.bodyOf(job.name)).toEqual(job.body);
  });

  it('stamps creation with its clock', async () => {
    const jobs = new MemoryRetrainingJobs(() => new Date('2026-03-01T10:00:00.000Z'));
    expect((await jobs.create(job.name, job.body)).createdAt).toBe('2026-03-01T10:00:00.000Z');
  });

  it('moves a job on with advance, terminal for an end status', async () => {
    const jobs = new MemoryRetrainingJobs();
    await jobs.create(job.name, job.body);
    jobs.advance(job.name, 'Running');
    expect(await jobs.get(job.name)).toMatchObject({ status: 'Running', terminal: false });
  });
});
