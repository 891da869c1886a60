import type { Clock } from '../../ports/clock.js';
import type {
  FanInEnd,
  FanOutMessage,
  FanOutStore,
  Json,
  JobRecord,
  RoundSpec,
  StoredJob,
  WorkQueue,
} from '../../ports/fan-out.js';

interface Job {
  stored: StoredJob;
  readonly plan: Json;
  readonly rounds: Map<number, RoundSpec>;
  outcome?: Json;
}

/** A copy through JSON, as the real store keeps it: no aliasing, `undefined` fields dropped. */
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * The fan-out store in memory, for tests and the command line: the same conditional writes as the
 * Table adapter. Every method yields once before it acts, so concurrent workers interleave at their
 * awaits as they would against a remote store.
 */
export class MemoryFanOutStore implements FanOutStore {
  private readonly jobs = new Map<string, Job>();
  private readonly resultsOf = new Map<string, Map<string, Json>>();
  private versions = 0;
  /** Conditional writes of the record that succeeded, commits included: for tests. */
  writes = 0;

  async create(job: string, plan: Json, first: RoundSpec, record: JobRecord): Promise<string | undefined> {
    await Promise.resolve();
    if (this.jobs.has(job)) return undefined;
    const version = this.version();
    this.jobs.set(job, {
      stored: { record: copy(record), version },
      plan: copy(plan),
      rounds: new Map([[0, copy(first)]]),
    });
    return version;
  }

  async job(job: string): Promise<StoredJob | undefined> {
    await Promise.resolve();
    const found = this.jobs.get(job);
    return found === undefined ? undefined : copy(found.stored);
  }

  async plan(job: string): Promise<Json> {
    await Promise.resolve();
    return copy(this.existing(job).plan);
  }

  async round(job: string, index: number): Promise<RoundSpec> {
    await Promise.resolve();
    const spec = this.existing(job).rounds.get(index);
    if (spec === undefined) throw new Error(`fan-out job ${job} has no round ${index}`);
    return copy(spec);
  }

  async putResult(job: string, round: number, unit: string, result: Json): Promise<'stored' | 'exists'> {
    await Promise.resolve();
    const results = this.roundResults(job, round);
    if (results.has(unit)) return 'exists';
    results.set(unit, copy(result));
    return 'stored';
  }

  async hasResult(job: string, round: number, unit: string): Promise<boolean> {
    await Promise.resolve();
    return this.roundResults(job, round).has(unit);
  }

  async resultUnits(job: string, round: number): Promise<string[]> {
    await Promise.resolve();
    return [...this.roundResults(job, round).keys()];
  }

  async results(job: string, round: number): Promise<Map<string, Json>> {
    await Promise.resolve();
    return new Map(copy([...this.roundResults(job, round)]));
  }

  async update(job: string, expected: string, record: JobRecord): Promise<string | undefined> {
    await Promise.resolve();
    return this.replace(job, expected, record);
  }

  async commit(job: string, expected: string, record: JobRecord, end: FanInEnd): Promise<string | undefined> {
    await Promise.resolve();
    const version = this.replace(job, expected, record);
    if (version === undefined) return undefined;
    const found = this.existing(job);
    if ('next' in end) found.rounds.set(record.round, copy(end.next));
    else found.outcome = copy(end.outcome);
    return version;
  }

  async outcome(job: string): Promise<Json | undefined> {
    await Promise.resolve();
    const found = this.jobs.get(job);
    return found?.outcome === undefined ? undefined : copy(found.outcome);
  }

  private replace(job: string, expected: string, record: JobRecord): string | undefined {
    const found = this.jobs.get(job);
    if (found?.stored.version !== expected) return undefined;
    found.stored = { record: copy(record), version: this.version() };
    this.writes += 1;
    return found.stored.version;
  }

  private existing(job: string): Job {
    const found = this.jobs.get(job);
    if (found === undefined) throw new Error(`fan-out job ${job} does not exist`);
    return found;
  }

  private roundResults(job: string, round: number): Map<string, Json> {
    const key = JSON.stringify([job, round]);
    let results = this.resultsOf.get(key);
    if (results === undefined) this.resultsOf.set(key, (results = new Map<string, Json>()));
    return results;
  }

  private version(): string {
    this.versions += 1;
    return String(this.versions);
  }
}

export interface QueuedMessage {
  readonly message: FanOutMessage;
  /** Epoch ms, on the queue's clock. */
  readonly visibleAt: number;
}

/** The work queue in memory: messages wait in `pending` until a test takes those that are visible. */
export class MemoryWorkQueue implements WorkQueue {
  readonly pending: QueuedMessage[] = [];
  /** Every message ever sent, in order: for tests. */
  readonly sent: FanOutMessage[] = [];

  constructor(private readonly clock: Clock = () => new Date()) {}

  send(messages: readonly FanOutMessage[], delayMs = 0): Promise<void> {
    const visibleAt = this.clock().getTime() + delayMs;
    for (const message of messages) {
      this.pending.push({ message: copy(message), visibleAt });
      this.sent.push(copy(message));
    }
    return Promise.resolve();
  }

  /** Removes and returns the messages visible now, oldest first. */
  take(): FanOutMessage[] {
    const now = this.clock().getTime();
    const visible = this.pending.filter((m) => m.visibleAt <= now);
    const waiting = this.pending.filter((m) => m.visibleAt > now);
    this.pending.splice(0, this.pending.length, ...waiting);
    return visible.map((m) => m.message);
  }

  /** Puts a message back, visible after `delayMs`: a redelivery. */
  putBack(message: FanOutMessage, delayMs = 0): void {
    this.pending.push({ message, visibleAt: this.clock().getTime() + delayMs });
  }
}
