import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { promotionDemo, type PromotionDemoInput } from '../../dev/promotion-demo.js';
import { startAmlStandIn, type AmlStandIn } from '../../dev/aml-stand-in.js';
import { RESOURCE_GROUP, sampleJob, SUBSCRIPTION, WORKSPACE } from '../helpers/retraining.js';

let standIn: AmlStandIn;
beforeEach(async () => {
  standIn = await startAmlStandIn();
});
afterEach(async () => {
  await standIn.close();
});

const JOB = sampleJob();
const event = (version: string, eventId: string, evaluatedAt: string) => ({
  type: 'evaluation',
  schemaVersion: 1,
  eventId,
  model: 'llama-3.1-8b-instruct',
  modelVersion: version,
  dataset: 'support-qa@3',
  metrics: { exact_match: 0.81, f1: 0.88, toxicity: 0, completed: 1 },
  evaluatedAt,
});

function input(overrides: Partial<PromotionDemoInput> = {}): PromotionDemoInput {
  return {
    standIn,
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RESOURCE_GROUP,
    workspace: WORKSPACE,
    job: { name: JOB.name, status: 'Completed', terminal: true, tags: JOB.body.tags },
    model: 'llama-3.1-8b-instruct',
    candidateVersion: '8',
    currentVersion: '7',
    evaluations: [event('7', 'ev-7', '2026-03-01T01:00:00Z'), event('8', 'ev-8', '2026-03-02T01:00:00Z')],
    costGate: { verdict: 'pass', reasons: [], trafficDays: ['2026-03-01'] },
    rulesPath: 'rules/quality-gates.json',
    outDir: mkdtempSync(join(tmpdir(), 'promotion-demo-')),
    now: () => new Date('2026-03-02T02:00:00Z'),
    ...overrides,
  };
}

describe('promotionDemo', () => {
  it('registers on the stand-in, renders the canary and writes a PROMOTE verdict with its overlay', async () => {
    const i = input();
    const result = await promotionDemo(i);
    expect(standIn.models.has('llama-3.1-8b-instruct:8')).toBe(true);
    expect(result.promotion.code).toBe(0);
    expect(result.promotion.applied).toBe(false);
    expect(existsSync(join(i.outDir, 'canary', 'deployment.yaml'))).toBe(true);
    expect(readFileSync(join(i.outDir, 'promotion', 'overlay', 'promote-patch.yaml'), 'utf8')).toContain(
      '/models/registry/llama-3.1-8b-instruct/8',
    );
  });

  it('holds a failed job: nothing registered, no canary, no overlay', async () => {
    const i = input({ job: { name: JOB.name, status: 'Failed', terminal: true, tags: JOB.body.tags } });
    const result = await promotionDemo(i);
    expect(standIn.models.size).toBe(0);
    expect(result.canaryDir).toBeUndefined();
    expect(result.promotion.code).toBe(1);
    expect(result.promotion.verdict.reasons.join('\n')).toMatch(/is Failed, not Completed/);
    expect(existsSync(join(i.outDir, 'promotion', 'overlay'))).toBe(false);
  });
});
