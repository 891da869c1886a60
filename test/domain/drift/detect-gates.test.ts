import { describe, expect, it } from 'vitest';
import { detectDrift } from '../../../src/domain/drift/detect.js';
import { DEFAULT_DRIFT_RULES } from '../../../src/domain/drift/rules.js';
import { day, group, history, TODAY, type GroupShape } from './fixture.js';

/** The group judged on TODAY against 28 ordinary days of `usual`. */
function detect(usual: GroupShape, today: GroupShape) {
  return detectDrift({
    today: day(TODAY, { groups: [group({}, today)] }),
    history: history(28, () => ({ groups: [group({}, usual)] })),
    rules: DEFAULT_DRIFT_RULES,
    open: new Set(),
  });
}

describe('statistical rules are gated by requests, money rules by money', () => {
  // A retrieval bug stuffs the context: a feature of 3,000 requests and about $4.50 a day, whose
  // prompts triple overnight, spends $6 that day.
  const small = { requests: 3000, costUsd: 4.5, prompt: 500 };
  const report = detect(small, { ...small, costUsd: 6, prompt: 1500 });

  it('catch a small feature whose prompts triple, on the first day', () => {
    expect(report.alerts.map((a) => [a.rule, a.severity])).toEqual([
      ['promptLengthShift', 'critical'],
      ['promptTokensPerRequest', 'critical'],
    ]);
  });

  it('say so in tokens', () => {
    expect(report.alerts.find((a) => a.rule === 'promptTokensPerRequest')?.message).toBe(
      'Prompt tokens per request of acme / chat on llama-3-8b (interactive) rose 200% to 1,500 tokens ' +
        'from a median of 500 tokens over 4 Mondays (critical at 1,000 tokens).',
    );
  });

  it('still leave its spend alone: $6 against $4.50 is not worth a page', () => {
    expect(report.alerts.filter((a) => a.rule === 'dailyCost' || a.rule === 'costPer1kTokens')).toEqual([]);
  });

  it('do not judge a group of a few hundred requests, whose averages are noise', () => {
    // 300 requests with long-tailed prompts: an average 40% up is what a few long ones can do.
    const tiny = { requests: 300, costUsd: 0.45, prompt: 500, completion: 200 };
    expect(detect(tiny, { ...tiny, prompt: 700, completion: 280 }).alerts).toEqual([]);
  });

  it('judge a group from 1,000 requests on the day and on a typical day', () => {
    const atGate = { requests: 1000, costUsd: 1.5, prompt: 500 };
    expect(detect(atGate, { ...atGate, prompt: 1500 }).alerts.map((a) => a.rule)).toContain(
      'promptTokensPerRequest',
    );
    const usualBelow = { ...atGate, requests: 999 };
    expect(detect(usualBelow, { ...atGate, prompt: 1500 }).alerts).toEqual([]);
  });
});
