import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alertId, MAX_ID_LENGTH } from '../../../src/domain/drift/alert-id.js';

/** Table Storage row keys refuse these (and ids are row keys in the alert store). */
const rowKeySafe = (id: string): boolean =>
  Array.from({ length: id.length }, (_, i) => id.charCodeAt(i)).every(
    (code) => !'/\\#?'.includes(String.fromCharCode(code)) && code >= 0x20 && !(code >= 0x7f && code <= 0x9f),
  );

describe('alert ids', () => {
  it('are the rule and the scope joined by colons', () => {
    expect(alertId('errorRate', ['acme', 'chat', 'llama-3-8b', 'interactive'])).toBe(
      'errorRate:acme:chat:llama-3-8b:interactive',
    );
  });

  it('escape the characters a row key refuses', () => {
    const id = alertId('costPer1kTokens', ['a/b', 'c\\d', 'e#f?', 'g\u0001h']);
    expect(rowKeySafe(id)).toBe(true);
    expect(id).toBe('costPer1kTokens:a%2Fb:c%5Cd:e%23f%3F:g%01h');
  });

  it('never run two scopes together: a colon inside a value is escaped', () => {
    expect(alertId('r', ['a:b', 'c'])).not.toBe(alertId('r', ['a', 'b:c']));
  });

  it('are row-key safe, bounded and stable for any scope', () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.string({ unit: 'binary' }), { maxLength: 5 }), (rule, scope) => {
        const id = alertId(rule, scope);
        expect(rowKeySafe(id)).toBe(true);
        expect(id.length).toBeLessThanOrEqual(MAX_ID_LENGTH);
        expect(alertId(rule, [...scope])).toBe(id);
      }),
    );
  });

  it('keep long scopes that share a head apart', () => {
    const head = 'x'.repeat(MAX_ID_LENGTH);
    const a = alertId('r', [`${head}a`]);
    const b = alertId('r', [`${head}b`]);
    expect(a.length).toBe(MAX_ID_LENGTH);
    expect(a).not.toBe(b);
  });
});
