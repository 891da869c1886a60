/**
 * The one rule for control characters: C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F).
 * Names refuse them through readLabel below; reports and terminal messages show them escaped.
 */

// eslint-disable-next-line no-control-regex -- finding control characters is the rule itself
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex -- the same set, global, for replacing every one
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** True when the text holds at least one C0, DEL or C1 control character. */
export function hasControlCharacter(text: string): boolean {
  return CONTROL_CHARACTER.test(text);
}

/**
 * The text with every control character written as `\uXXXX` (JSON's spelling), so that it can
 * neither break a line, move a terminal's cursor nor hide in a spreadsheet cell, and a reader can
 * still see which character it was.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Longest tenant or feature (contracts.md §2), counted in UTF-16 code units after NFC normalisation. */
export const MAX_LABEL = 128;

/**
 * Characters no name may hold, each with what it is: controls; the line and paragraph separators
 * (U+2028, U+2029), which break lines in JSON readers and terminals as a newline does; the
 * bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and marks
 * (U+200E, U+200F, U+061C) and the invisible ones (zero-width space U+200B, word joiner and
 * invisible operators U+2060-U+2064, U+FEFF, U+180E, soft hyphen U+00AD), which make one name look
 * like another; and lone surrogates, which are not text at all (no UTF-8 can carry them). Zero-width
 * joiner and non-joiner (U+200C, U+200D) stay legal: emoji sequences and Persian or Indic names need
 * them.
 */
const REFUSED =
  // eslint-disable-next-line no-control-regex -- finding control characters is part of the rule
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/**
 * Printable ASCII without a space at either end: a name that passes as it is, already NFC (the
 * common case, so it is checked first, in one regular expression).
 */
const PLAIN_NAME = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const EDGE_SPACE = /^\s|\s$/;

function what(code: number): string {
  if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return 'control character';
  if (code === 0x2028) return 'line separator';
  if (code === 0x2029) return 'paragraph separator';
  if (code >= 0xd800 && code <= 0xdfff) return 'lone surrogate';
  if (code === 0x061c || code === 0x200e || code === 0x200f || (code >= 0x202a && code <= 0x202e))
    return 'bidirectional control';
  if (code >= 0x2066 && code <= 0x2069) return 'bidirectional control';
  return 'invisible character';
}

/**
 * The one text rule for a name that reports group by (tenant, feature, request class, model, pod),
 * at every entry: the sidecar's headers, its API-key map and request body, and ingestion. Refuses,
 * naming the first offending character by its code point: lone surrogates, controls, line and
 * paragraph separators, and the bidirectional and invisible characters above; then leading or
 * trailing whitespace (`(idle) ` is not `(idle)`, and no report should hold two names that differ
 * by a space nobody sees). Otherwise gives the name in Unicode Normalization Form C, so that
 * `école` typed precomposed or as `e` + U+0301 is one tenant; the length limit (1 to `max`
 * UTF-16 code units, as the reports count) applies to that form. The reason has no field name: the
 * caller prefixes it (`tenant: must not contain U+202E (bidirectional control)`).
 */
export function readLabel(text: string, max: number = MAX_LABEL): { value: string } | { error: string } {
  if (text === '') return { error: 'must not be empty' };
  let value = text;
  if (!PLAIN_NAME.test(text)) {
    const refused = REFUSED.exec(text);
    if (refused !== null) {
      const code = refused[0].charCodeAt(0);
      return { error: `must not contain U+${hex(code)} (${what(code)})` };
    }
    if (EDGE_SPACE.test(text)) return { error: 'must not begin or end with whitespace' };
    value = text.normalize('NFC');
  }
  if (value.length > max) return { error: `must be at most ${max} characters` };
  return { value };
}

/**
 * True exactly when readLabel(text, max) gives `text` back unchanged (valid and already NFC): the
 * check of ingestion's fast path, without readLabel's result object.
 */
export function isNormalLabel(text: string, max: number = MAX_LABEL): boolean {
  if (text.length === 0 || text.length > max) return false;
  if (PLAIN_NAME.test(text)) return true;
  return !REFUSED.test(text) && !EDGE_SPACE.test(text) && text.normalize('NFC') === text;
}

function hex(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}
