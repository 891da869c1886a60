import { describe, expect, it } from 'vitest';
import { gateFailedMessage } from '../../../src/domain/gate/card.js';
import { fit, messageBytes, paragraph, subtle } from '../../../src/domain/teams/message.js';
import { failedOnQuality } from '../../usecases/quality/fixture.js';

/**
 * 24 KB: a margin below the webhook's "about 28 KB", which Teams counts after rendering the card
 * (https://learn.microsoft.com/en-us/connectors/teams/#known-issues-and-limitations-with-actions).
 */
const BUDGET = 24 * 1024;
const hostile = (n: number): string => `${n}`.padEnd(300, '*_[]`<>{{\u202e😀é\n');

describe('the size of a posted Teams message', () => {
  const rows = Array.from({ length: 400 }, (_, n) => paragraph(`• ${hostile(n)}`, 'None'));
  const message = fit([subtle('head')], rows, {});

  it('is at most 24 KB of UTF-8 JSON by default, envelope included', () => {
    expect(messageBytes(message)).toBeLessThanOrEqual(BUDGET);
  });

  it('fills that budget rather than a smaller one: it cuts only the rows that do not fit', () => {
    expect(messageBytes(message)).toBeGreaterThan(BUDGET - 1024);
  });

  it('keeps a gate card with many long hostile reasons within 24 KB', () => {
    const judgement = failedOnQuality();
    const reasons = Array.from({ length: 40 }, (_, n) => hostile(n));
    const card = gateFailedMessage({ ...judgement, verdict: { ...judgement.verdict, reasons } });
    expect(messageBytes(card)).toBeLessThanOrEqual(BUDGET);
  });
});
