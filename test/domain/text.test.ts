import { describe, expect, it } from 'vitest';
import {
  escapeControlCharacters,
  hasControlCharacter,
  isNormalLabel,
  readLabel,
} from '../../src/domain/text.js';

describe('control characters', () => {
  it.each(['\u0000', '\t', '\n', '\r', '\u001b', '\u001f', '\u007f', '\u0080', '\u009f'])(
    'finds %j, a C0, DEL or C1 control character',
    (c) => {
      expect(hasControlCharacter(`a${c}b`)).toBe(true);
    },
  );

  it.each([' ', '~', '\u00a0', 'é', '=', ',', '"', '\u200b', '😀'])('lets %j through', (c) => {
    expect(hasControlCharacter(`a${c}b`)).toBe(false);
  });

  it('escapes every control character, not only the first, as \\uXXXX', () => {
    expect(escapeControlCharacters('a\u0000b\u001b[31mc\u009f')).toBe('a\\u0000b\\u001b[31mc\\u009f');
  });

  it('leaves text without control characters as it is', () => {
    expect(escapeControlCharacters('tenant, "é" = 😀')).toBe('tenant, "é" = 😀');
  });

  it('finds a control character whatever was tested before (no regex state carried over)', () => {
    expect(hasControlCharacter('\u0001')).toBe(true);
    expect(hasControlCharacter('\u0001')).toBe(true);
  });
});

describe('the one rule for names (readLabel)', () => {
  it('gives precomposed and decomposed spellings one NFC form', () => {
    expect(readLabel('e\u0301cole')).toEqual({ value: '\u00e9cole' });
    expect(readLabel('\u00e9cole')).toEqual({ value: '\u00e9cole' });
  });

  it('composes a base letter with several marks, and orders marks canonically', () => {
    expect(readLabel('A\u0308\u0304')).toEqual({ value: '\u01de' });
    expect(readLabel('q\u0307\u0323')).toEqual({ value: 'q\u0323\u0307' });
  });

  it('counts the 128 characters of the NFC form', () => {
    expect(readLabel('e\u0301'.repeat(128))).toEqual({ value: '\u00e9'.repeat(128) });
    expect(readLabel('e\u0301'.repeat(129))).toEqual({ error: 'must be at most 128 characters' });
    expect(readLabel('m'.repeat(256), 256)).toEqual({ value: 'm'.repeat(256) });
  });

  it('refuses the empty name', () => {
    expect(readLabel('')).toEqual({ error: 'must not be empty' });
  });

  it.each([
    ['\u0000', 'U+0000 (control character)'],
    ['\t', 'U+0009 (control character)'],
    ['\n', 'U+000A (control character)'],
    ['\u001b', 'U+001B (control character)'],
    ['\u007f', 'U+007F (control character)'],
    ['\u0085', 'U+0085 (control character)'],
    ['\u009f', 'U+009F (control character)'],
    ['\u2028', 'U+2028 (line separator)'],
    ['\u2029', 'U+2029 (paragraph separator)'],
    ['\u202a', 'U+202A (bidirectional control)'],
    ['\u202e', 'U+202E (bidirectional control)'],
    ['\u2066', 'U+2066 (bidirectional control)'],
    ['\u2068', 'U+2068 (bidirectional control)'],
    ['\u2069', 'U+2069 (bidirectional control)'],
    ['\u200e', 'U+200E (bidirectional control)'],
    ['\u200f', 'U+200F (bidirectional control)'],
    ['\u061c', 'U+061C (bidirectional control)'],
    ['\u200b', 'U+200B (invisible character)'],
    ['\u2060', 'U+2060 (invisible character)'],
    ['\u2064', 'U+2064 (invisible character)'],
    ['\ufeff', 'U+FEFF (invisible character)'],
    ['\u180e', 'U+180E (invisible character)'],
    ['\u00ad', 'U+00AD (invisible character)'],
  ])('refuses %j inside a name, naming it: %s', (c, named) => {
    expect(readLabel(`ali${c}ce`)).toEqual({ error: `must not contain ${named}` });
  });

  it.each([
    ['a lone high surrogate', 'a\ud800b', 'U+D800'],
    ['a lone low surrogate', 'a\udc00b', 'U+DC00'],
    ['a high surrogate at the end', 'ab\udbff', 'U+DBFF'],
    ['a pair in the wrong order', 'a\ude00\ud83db', 'U+DE00'],
  ])('refuses %s (not well-formed UTF-16)', (_name, text, code) => {
    expect(readLabel(text)).toEqual({ error: `must not contain ${code} (lone surrogate)` });
  });

  it('keeps a surrogate pair (an emoji) and the joiners that emoji and Indic names need', () => {
    expect(readLabel('😀')).toEqual({ value: '😀' });
    expect(readLabel('👨\u200d👩\u200d👧')).toEqual({ value: '👨\u200d👩\u200d👧' });
    expect(readLabel('\u0915\u094d\u200c\u0937')).toEqual({ value: '\u0915\u094d\u200c\u0937' });
  });

  it.each([' acme', 'acme ', '(idle) ', ' (idle)', 'acme\u00a0', '\u3000acme', 'acme\u2003', ' '])(
    'refuses %j: whitespace at either end',
    (text) => {
      expect(readLabel(text)).toEqual({ error: 'must not begin or end with whitespace' });
    },
  );

  it('keeps whitespace inside a name', () => {
    expect(readLabel('Ström AB')).toEqual({ value: 'Ström AB' });
    expect(readLabel('a\u00a0b')).toEqual({ value: 'a\u00a0b' });
  });

  it('isNormalLabel holds only for a name readLabel keeps unchanged', () => {
    expect(isNormalLabel('\u00e9cole')).toBe(true);
    expect(isNormalLabel('e\u0301cole')).toBe(false);
    expect(isNormalLabel('acme ')).toBe(false);
    expect(isNormalLabel('x'.repeat(500), Number.POSITIVE_INFINITY)).toBe(true);
  });
});
