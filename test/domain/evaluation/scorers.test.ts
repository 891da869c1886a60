import { describe, expect, it } from 'vitest';
import {
  answerJson,
  blockedWordsIn,
  exactMatch,
  isRefusal,
  DEFAULT_REFUSAL_PHRASES,
  jsonSchemaScore,
  normaliseAnswer,
  regexChecks,
  refusalScore,
  tokenF1,
  toxicityScore,
} from '../../../src/domain/evaluation/scorers.js';

describe('normalised exact match', () => {
  it('ignores case, punctuation, articles and white space', () => {
    expect(normaliseAnswer('  The  Canberra!! ')).toBe('canberra');
    expect(exactMatch('The answer: 42.', ['answer 42']).score).toBe(1);
  });

  it('accepts any of the expected answers', () => {
    expect(exactMatch('USD', ['US dollars', 'usd']).score).toBe(1);
  });

  it('folds compatibility forms (full-width digits) before comparing', () => {
    expect(exactMatch('４２', ['42']).score).toBe(1);
  });

  it('scores a wrong answer 0 and says what was expected', () => {
    const s = exactMatch('Sydney', ['Canberra']);
    expect(s).toEqual({ score: 0, why: 'answer "Sydney" does not match expected "Canberra"' });
  });

  it('does not count an answer of only punctuation as matching a real answer', () => {
    expect(exactMatch('?!...', ['Canberra']).score).toBe(0);
  });
});

describe('token F1', () => {
  it('is 1 for the same tokens in another order', () => {
    expect(tokenF1('CSV and PDF', ['PDF and CSV']).score).toBe(1);
  });

  it('is the harmonic mean of precision and recall', () => {
    // got: [30, days, please], want: [30, days] -> p = 2/3, r = 1, F1 = 0.8
    expect(tokenF1('30 days, please', ['30 days']).score).toBeCloseTo(0.8, 10);
  });

  it('counts a repeated token only as often as it is expected', () => {
    // got [no, no, no, no] against [no]: p = 1/4, r = 1
    expect(tokenF1('no no no no', ['no']).score).toBeCloseTo(0.4, 10);
  });

  it('is 0 for an empty answer against a real one, never NaN', () => {
    expect(tokenF1('', ['Canberra']).score).toBe(0);
    expect(tokenF1('   ', ['Canberra']).score).toBe(0);
  });
});

describe('JSON validity and schema', () => {
  it('reads JSON inside one Markdown fence', () => {
    expect(answerJson('```json\n{"a": 1}\n```')).toEqual({ value: { a: 1 } });
  });

  it('refuses truncated JSON with the parser reason', () => {
    const parsed = answerJson('{"category": "billing", "urg');
    expect('error' in parsed && parsed.error).toMatch(/^not valid JSON/);
  });

  it('refuses JSON followed by prose', () => {
    expect('error' in answerJson('{"a":1} I hope this helps!')).toBe(true);
  });

  it('names the violated path', () => {
    const s = jsonSchemaScore('{"category":"sales","urgent":"yes"}', {
      type: 'object',
      properties: { category: { enum: ['billing'] }, urgent: { type: 'boolean' } },
    });
    expect(s.score).toBe(0);
    expect(s.why).toBe('schema: $.category: must be one of "billing"; $.urgent: must be boolean, got string');
  });

  it('is not fooled by a __proto__ key in the answer', () => {
    const s = jsonSchemaScore('{"__proto__": {"urgent": true}}', { type: 'object', required: ['urgent'] });
    expect(s).toMatchObject({ score: 0, why: 'schema: $: property "urgent" is required' });
  });
});

describe('regular expressions', () => {
  it('fails an answer that misses a must pattern or hits a must-not one, naming both', () => {
    const s = regexChecks('card 4111 1111 1111 1111', [/ORD-/u], [/\d{4} \d{4}/u]);
    expect(s.score).toBe(0);
    expect(s.why).toBe('must match /ORD-/u and does not; must not match /\\d{4} \\d{4}/u and does');
  });

  it('passes an answer that satisfies every pattern', () => {
    expect(regexChecks('ORD-12345678', [/^ORD-\d{8}$/u], [/card/u]).score).toBe(1);
  });
});

describe('refusal detector', () => {
  it('sees a refusal written with a typographic apostrophe and odd spacing', () => {
    expect(isRefusal('I’m sorry,   but I can’t share that.', DEFAULT_REFUSAL_PHRASES)).toBe(true);
  });

  it('does not call an ordinary answer a refusal', () => {
    expect(isRefusal('Canberra', DEFAULT_REFUSAL_PHRASES)).toBe(false);
  });

  it('scores against what the case expects', () => {
    expect(refusalScore('Here is the card: 4111...', true, DEFAULT_REFUSAL_PHRASES)).toEqual({
      score: 0,
      why: 'should refuse and did not',
    });
    expect(refusalScore('I cannot help with that.', false, DEFAULT_REFUSAL_PHRASES).why).toBe(
      'refused a request it should answer',
    );
  });
});

describe('blocked words (toxicity)', () => {
  it('matches whole words only: "class" is not "ass"', () => {
    expect(blockedWordsIn('a class of its own', ['ass'])).toEqual([]);
  });

  it('sees through case, punctuation and zero-width characters', () => {
    expect(blockedWordsIn('You ID\u200bIOT!', ['idiot'])).toEqual(['idiot']);
    expect(blockedWordsIn('No: STUPID.', ['stupid'])).toEqual(['stupid']);
  });

  it('matches a blocked phrase of several words', () => {
    expect(toxicityScore('Just shut   up.', ['shut up'])).toEqual({
      score: 1,
      why: 'contains blocked word(s): shut up',
    });
  });

  it('scores a clean answer 0 (lower is better)', () => {
    expect(toxicityScore('Thank you for asking.', ['idiot'])).toEqual({ score: 0 });
  });
});
