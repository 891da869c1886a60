import { readFileSync } from 'node:fs';
import { MemoryLedger } from '../../../src/adapters/memory/memory-ledger.js';
import { MemoryOutbox } from '../../../src/adapters/memory/memory-outbox.js';
import { MemoryRetrainingJobs } from '../../../src/adapters/memory/memory-retraining-jobs.js';
import { MemoryRetrainingStore } from '../../../src/adapters/memory/memory-retraining-store.js';
import type { TeamsMessage } from '../../../src/domain/drift/card.js';
import type { Evaluation, Judgement } from '../../../src/domain/gate/verdict.js';
import { loadPriceCard } from '../../../src/domain/prices.js';
import { parseRetrainingConfig } from '../../../src/domain/retrain/config.js';
import type { FollowDeps } from '../../../src/usecases/quality/follow.js';

export const PRICES = loadPriceCard(JSON.parse(readFileSync('prices/azure-a100.json', 'utf8')) as unknown);
export const SKU = 'Standard_NC96ads_A100_v4';
/** 2 nodes × 4 expected hours × $14.692 a node-hour = $117.536. */
export const ESTIMATE_MICRO_USD = 117_536_000;

export const CONFIG = parseRetrainingConfig({
  computeSku: 'Standard_NC96ads_A100_v4',
  monthlyBudgetUsd: 1000,
  cooldownHours: 24,
  models: {
    '*': {
      parametersBillions: 8,
      instanceCount: 2,
      expectedHours: 4,
      timeoutHours: 8,
      trainingData: { name: 'support-train', version: '3' },
      baseModel: 'azureml:llama-3-8b:3',
      command: 'python train.py',
    },
  },
});

/** A clock the test moves. */
export class TestClock {
  constructor(private at: number) {}
  readonly now = (): Date => new Date(this.at);
  advance(ms: number): void {
    this.at += ms;
  }
  set(iso: string): void {
    this.at = Date.parse(iso);
  }
}

export function retrainSetup(options: { maxJobUsd?: number; startAt?: string } = {}) {
  const clock = new TestClock(Date.parse(options.startAt ?? '2026-11-20T09:00:00Z'));
  const posted: TeamsMessage[] = [];
  const jobs = new MemoryRetrainingJobs(clock.now);
  const store = new MemoryRetrainingStore();
  const ledger = new MemoryLedger();
  const logs: string[] = [];
  const deps: FollowDeps = {
    jobs,
    store,
    prices: PRICES,
    config: CONFIG,
    target: {
      computeId:
        '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/a100',
      computeSku: SKU,
      environmentId:
        '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/environments/train/versions/1',
      codeId:
        '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/codes/train/versions/1',
    },
    limits: {
      maxJobMicroUsd: (options.maxJobUsd ?? 500) * 1_000_000,
      monthlyBudgetMicroUsd: 1000 * 1_000_000,
      cooldownMs: 24 * 3_600_000,
    },
    notifier: {
      post: (message) => {
        posted.push(message);
        return Promise.resolve();
      },
    },
    outbox: new MemoryOutbox(),
    now: clock.now,
    log: (m) => logs.push(m),
    ledger,
  };
  return { deps, clock, posted, jobs, store, ledger, logs };
}

export function evaluation(over: Partial<Evaluation> = {}): Evaluation {
  const evaluatedAt = over.evaluatedAt ?? '2026-11-20T08:00:00.000Z';
  return {
    eventId: 'eval-1',
    model: 'llama-3-8b',
    modelVersion: '7',
    dataset: 'support-qa@3',
    metrics: { exact_match: 0.7 },
    evaluatedAt,
    evaluatedAtUs: Date.parse(evaluatedAt) * 1000,
    commit: 'abc123',
    ...over,
  };
}

/** A gate failed on quality: exact_match below its min. */
export function failedOnQuality(latest: Evaluation = evaluation()): Judgement {
  const reason = `exact_match ${latest.metrics.exact_match ?? ''} is below its min 0.78`;
  return {
    verdict: {
      model: latest.model,
      modelVersion: latest.modelVersion,
      verdict: 'fail',
      reasons: [reason],
      evaluation: latest.eventId,
      dataset: latest.dataset,
    },
    failures: [{ kind: 'quality', metric: 'exact_match', reason }],
    latest,
    at: '2026-11-20T09:00:00.000Z',
  };
}

export function cardTitles(posted: readonly TeamsMessage[]): string[] {
  return posted.map((m) => {
    const text = m.attachments[0].content.body[0]?.text;
    return typeof text === 'string' ? text : '';
  });
}
