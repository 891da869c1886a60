import { PermanentError } from '../../domain/errors.js';
import type { CommandJobBody } from '../../domain/retrain/job-spec.js';
import { isTerminal, type JobState, type RetrainingJobs } from '../../ports/retraining-jobs.js';

interface StoredJob {
  state: JobState;
  readonly body: CommandJobBody;
}

/**
 * Azure ML jobs in memory, for use-case tests and the command line without a workspace. A new job
 * is `Queued`; tests move it on with `advance`. Like Azure ML, cancel asks and the job then reads
 * `Canceled`; an ended job is left as it is. Every method yields once before it acts, so concurrent
 * callers interleave at their awaits as they would against the service.
 */
export class MemoryRetrainingJobs implements RetrainingJobs {
  private readonly jobs = new Map<string, StoredJob>();
  private createCount = 0;

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** How many jobs `create` has made (a refused duplicate is not one). */
  get creates(): number {
    return this.createCount;
  }

  /** The body a job was created with. */
  bodyOf(name: string): CommandJobBody | undefined {
    return this.jobs.get(name)?.body;
  }

  async get(name: string): Promise<JobState | undefined> {
    await Promise.resolve();
    return this.jobs.get(name)?.state;
  }

  async create(name: string, body: CommandJobBody): Promise<JobState> {
    await Promise.resolve();
    if (this.jobs.has(name)) {
      // What Azure ML answers when a job's immutable body is PUT again: the caller should have read first.
      throw new PermanentError(`Azure ML create job ${name}: 409 Conflict: a job of that name exists`);
    }
    const at = this.now().toISOString();
    const state: JobState = {
      name,
      status: 'Queued',
      terminal: false,
      tags: { ...body.tags },
      createdAt: at,
      lastModifiedAt: at,
    };
    this.jobs.set(name, { state, body: structuredClone(body) });
    this.createCount += 1;
    return state;
  }

  async cancel(name: string): Promise<void> {
    await Promise.resolve();
    const job = this.jobs.get(name);
    if (job === undefined) throw new PermanentError(`Azure ML cancel job ${name}: 404 Not Found`);
    if (!job.state.terminal) this.advance(name, 'Canceled');
  }

  /** Sets a job's status, as Azure ML moving it on would. Throws for an unknown job. */
  advance(name: string, status: string): void {
    const job = this.jobs.get(name);
    if (job === undefined) throw new Error(`no job ${name}`);
    job.state = {
      ...job.state,
      status,
      terminal: isTerminal(status),
      lastModifiedAt: this.now().toISOString(),
    };
  }
}
