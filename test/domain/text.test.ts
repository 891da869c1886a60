import { describe, expect, it } from 'vitest';
import { escapeControlCharacters, hasControlCharacter } from '../../src/domain/text.js';

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
