import { describe, expect, it } from 'vitest';
import { isTerminal } from '../../src/ports/retraining-jobs.js';

/** KnownJobStatus of @azure/arm-machinelearning 2.1.1 (api-version 2022-10-01). */
const STILL_RUNNING = [
  'NotStarted',
  'Starting',
  'Provisioning',
  'Preparing',
  'Queued',
  'Running',
  'Finalizing',
  'CancelRequested',
  'NotResponding',
  'Paused',
  'Unknown',
];

describe('isTerminal', () => {
  it.each(['Completed', 'Failed', 'Canceled'])('takes %s as ended', (status) => {
    expect(isTerminal(status)).toBe(true);
  });

  it.each(STILL_RUNNING)('takes %s as not ended (the job may still run)', (status) => {
    expect(isTerminal(status)).toBe(false);
  });

  it.each(['Draining', 'completed', ''])('takes a status it does not know (%j) as not ended', (status) => {
    expect(isTerminal(status)).toBe(false);
  });
});
