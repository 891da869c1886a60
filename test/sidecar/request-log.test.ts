import { describe, expect, it } from 'vitest';
import { requestLogLine } from '../../src/sidecar/request-log.js';

const usage = {
  type: 'usage',
  eventId: 'e-1',
  requestId: 'client\nid "x"',
  tenant: 'acme',
  feature: 'chat',
  requestClass: 'interactive',
  model: 'm',
  pod: 'p',
  status: 'ok',
  httpStatus: 200,
  startedAt: '2026-11-22T10:00:00.000Z',
  firstTokenAt: '2026-11-22T10:00:00.250Z',
  finishedAt: '2026-11-22T10:00:02.000Z',
  promptTokens: 10,
  cachedPromptTokens: 0,
  completionTokens: 5,
};

describe('requestLogLine', () => {
  it('keeps a hostile request id inside one line of JSON', () => {
    const line = requestLogLine(usage) ?? '';
    expect(line.split('\n')).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ requestId: 'client\nid "x"', durationMs: 2000, ttftMs: 250 });
  });

  it('writes nothing for a capacity event', () => {
    expect(requestLogLine({ type: 'capacity' })).toBeUndefined();
  });

  it('has null times when the request had no first token', () => {
    expect(JSON.parse(requestLogLine({ ...usage, firstTokenAt: null }) ?? '')).toMatchObject({
      ttftMs: null,
    });
  });
});
