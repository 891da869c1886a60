/**
 * The alert lifecycle over the alert store: applies a day's drift report to the stored records and
 * returns the posts this run has won the right to make. Delivery is not done here: the caller posts
 * (or queues in the outbox) each card and then reports it through `PostSettlement`, and only then is
 * the post counted as heard by the channel. See docs/drift-lifecycle.md.
 *
 * Why a run never posts what another run of the same day posts: every post is claimed first with an
 * insert-if-absent row keyed by (day, alert id, phase), and only the run that created the row gets
 * the post back. A run that wins a claim and stops before delivering leaves the record without a
 * notice, so the next day's run raises the alert again rather than losing it.
 */
import type { Day } from '../../domain/days.js';
import type { DriftReport } from '../../domain/drift/alert.js';
import { TransientError } from '../../domain/errors.js';
import {
  decide,
  noticeDelivered,
  openBefore,
  phaseOf,
  sameRecord,
  type AlertPost,
  type AlertRecord,
  type LifecyclePolicy,
  type Step,
} from '../../domain/drift/lifecycle.js';
import type { AlertStore, StoredAlert } from '../../ports/alert-store.js';
import type { Clock } from '../../ports/clock.js';

/** How delivery reports back: a post reached Teams (`posted`) or waits in the outbox (`queued`). */
export interface PostSettlement {
  settle(post: AlertPost, how: 'posted' | 'queued'): Promise<void>;
}

export interface LifecycleDeps {
  readonly store: AlertStore;
  readonly policy: LifecyclePolicy;
  readonly now: Clock;
  /** Names this run in its claims (the invocation id in Azure, anything unique elsewhere). */
  readonly runId: string;
}

export interface LifecycleOutcome {
  /** The posts this run won, to deliver and then settle. */
  readonly posts: readonly AlertPost[];
  /** Alerts whose record the report raised, kept open or resolved. */
  readonly applied: number;
  /** Posts due that another run of the day had already claimed. */
  readonly lost: number;
}

// Each lost conditional write means another writer moved the record meanwhile, so every round some
// writer gets through: this many attempts outlast that many runs of one day writing at once (and
// their settlements), far more than a retry, a restatement and a scaled-out instance make.
const MAX_ATTEMPTS = 16;

export class AlertLifecycle implements PostSettlement {
  constructor(private readonly deps: LifecycleDeps) {}

  /** Ids of alerts open at the end of the day before `day`: the `open` set the drift rules take. */
  async openIds(day: Day): Promise<Set<string>> {
    const stored = await this.deps.store.records();
    return openBefore(
      stored.map((s) => s.record),
      day,
    );
  }

  /** Applies the day's report: stores each alert's new state and claims the posts that are due. */
  async apply(report: DriftReport): Promise<LifecycleOutcome> {
    const stored = new Map((await this.deps.store.records()).map((s) => [s.record.id, s]));
    const records = new Map([...stored].map(([id, s]) => [id, s.record]));
    const posts: AlertPost[] = [];
    let applied = 0;
    let lost = 0;
    for (const first of decide(report, records, this.deps.policy)) {
      const step = await this.write(report, first, stored.get(first.next.id));
      if (step === undefined) continue;
      applied++;
      if (step.post === undefined) continue;
      if ((await this.claim(step.post)) === 'won') posts.push(step.post);
      else lost++;
    }
    return { posts, applied, lost };
  }

  async settle(post: AlertPost, how: 'posted' | 'queued'): Promise<void> {
    const { store, now } = this.deps;
    await store.settle({ day: post.day, id: post.id, phase: phaseOf(post.kind) }, how, now().toISOString());
    await this.update(post.id, (record) => noticeDelivered(record, post));
  }

  /**
   * Writes the step's record; when another run changed it meanwhile, reads it again and decides
   * again for this alert alone. Undefined when, after the re-read, nothing is left to do.
   */
  private async write(
    report: DriftReport,
    first: Step,
    current: StoredAlert | undefined,
  ): Promise<Step | undefined> {
    let step: Step | undefined = first;
    let version = current?.version;
    let stored = current?.record;
    for (let attempt = 0; attempt < MAX_ATTEMPTS && step !== undefined; attempt++) {
      // A retry of a day that was applied already changes nothing: no write to race over.
      if (stored !== undefined && sameRecord(stored, step.next)) return step;
      if ((await this.deps.store.put(step.next, version)) === 'written') return step;
      const fresh = await this.deps.store.get(step.next.id);
      ({ version, record: stored } = fresh ?? { version: undefined, record: undefined });
      step = this.redecide(report, step.next.id, stored);
    }
    if (step === undefined) return undefined;
    throw new TransientError(`alert ${step.next.id}: the record kept changing under ${MAX_ATTEMPTS} writes`);
  }

  private redecide(report: DriftReport, id: string, record: AlertRecord | undefined): Step | undefined {
    const only = {
      date: report.date,
      alerts: report.alerts.filter((a) => a.id === id),
      resolved: report.resolved.filter((r) => r === id),
    };
    const records = new Map(record === undefined ? [] : [[id, record] as const]);
    return decide(only, records, this.deps.policy)[0];
  }

  private claim(post: AlertPost): Promise<'won' | 'lost'> {
    return this.deps.store.claim({
      day: post.day,
      id: post.id,
      phase: phaseOf(post.kind),
      kind: post.kind,
      runId: this.deps.runId,
      claimedAt: this.deps.now().toISOString(),
    });
  }

  /** Read, change, write back conditionally, again while another writer gets in between. */
  private async update(id: string, change: (record: AlertRecord) => AlertRecord): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.deps.store.get(id);
      if (current === undefined) return;
      const next = change(current.record);
      if (next === current.record) return;
      if ((await this.deps.store.put(next, current.version)) === 'written') return;
    }
    throw new TransientError(`alert ${id}: the record kept changing under ${MAX_ATTEMPTS} writes`);
  }
}
