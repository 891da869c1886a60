import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jobName, slug, type JobNameInput } from '../../../src/domain/retrain/job-name.js';
import { sha256Hex } from '../../../src/domain/retrain/sha256.js';

const failure: JobNameInput = {
  model: 'llama-3.1-8b-instruct',
  modelVersion: '3',
  dataset: 'support-qa@3',
  evaluation: 'eval-0001',
};

/** Azure ML job names: a letter first, then letters, digits, `-` and `_`; ours stay within 64. */
const VALID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

describe('jobName', () => {
  it('is retrain-<slug>-<16 hex of SHA-256 over the four fields as a JSON array>', () => {
    const hash = createHash('sha256')
      .update(JSON.stringify(['llama-3.1-8b-instruct', '3', 'support-qa@3', 'eval-0001']))
      .digest('hex');
    expect(jobName(failure)).toBe(`retrain-llama-3-1-8b-instruct-${hash.slice(0, 16)}`);
  });

  it('is the same for the same failure', () => {
    expect(jobName({ ...failure })).toBe(jobName(failure));
  });

  it.each(['model', 'modelVersion', 'dataset', 'evaluation'] as const)('changes with %s', (field) => {
    expect(jobName({ ...failure, [field]: `${failure[field]}x` })).not.toBe(jobName(failure));
  });

  it('does not confuse fields whose text runs together', () => {
    const a = jobName({ ...failure, modelVersion: '3', dataset: '1@2' });
    const b = jobName({ ...failure, modelVersion: '31', dataset: '@2' });
    expect(a).not.toBe(b);
  });

  it('keeps a slug of at most 32 characters, so the name is at most 57', () => {
    const name = jobName({ ...failure, model: 'a-very-long-model-name-'.repeat(10) });
    expect(name.length).toBeLessThanOrEqual(8 + 32 + 1 + 16);
  });

  it('gives a hostile model name (slashes, control characters, emoji only) a valid name', () => {
    expect(jobName({ ...failure, model: '/\u0000😀\u202e' })).toMatch(/^retrain-model-[0-9a-f]{16}$/);
  });

  it('gives a valid name whatever the fields', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string(), fc.string(), fc.string(), (model, v, d, e) =>
        VALID.test(jobName({ model, modelVersion: v, dataset: d, evaluation: e })),
      ),
    );
  });
});

describe('slug', () => {
  it('keeps the letters of accented names', () => {
    expect(slug('Modèle Été/v2')).toBe('modele-ete-v2');
  });

  it('does not end with a hyphen after being cut', () => {
    expect(slug('abcd-efgh', 5)).toBe('abcd');
  });
});

describe('sha256Hex', () => {
  it('agrees with node:crypto on any string, UTF-8 encoded', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        (text) => sha256Hex(text) === createHash('sha256').update(text, 'utf8').digest('hex'),
      ),
    );
  });

  it('agrees with node:crypto across the padding boundaries (55, 56 and 64 bytes)', () => {
    for (const n of [0, 55, 56, 63, 64, 65, 119, 120]) {
      expect(sha256Hex('a'.repeat(n))).toBe(createHash('sha256').update('a'.repeat(n)).digest('hex'));
    }
  });
});
