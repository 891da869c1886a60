/**
 * The one rule for control characters: C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F).
 * SPEC 2 forbids them in a tenant or feature; the sidecar refuses them in attribution headers and
 * in a model name; reports and terminal messages show them escaped. Any other Unicode is legal.
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
