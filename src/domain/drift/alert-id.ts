import { hash53 } from '../hash.js';

/**
 * Alert ids: the rule and the scope's values, each escaped, joined by `:`. The same rule and scope
 * always give the same id, so an alert that persists keeps it. The id is also a Table Storage row
 * key, which may not hold `/`, `\`, `#`, `?` or control characters and is limited to 1 KiB
 * (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model):
 * `encodeURIComponent` escapes all of those (and `:` and `%`, so the parts cannot run together),
 * and an id longer than MAX_ID_LENGTH keeps its head and ends with a hash of the whole.
 */

/** Well under the row key's 1 KiB (UTF-16), leaving room for a prefix the store may add. */
export const MAX_ID_LENGTH = 400;

export function alertId(rule: string, scope: readonly string[]): string {
  const id = [rule, ...scope].map(encodeURIComponent).join(':');
  if (id.length <= MAX_ID_LENGTH) return id;
  // Escapes are ASCII, so cutting anywhere leaves no half character; the hash keeps ids that
  // share a long head apart.
  return `${id.slice(0, MAX_ID_LENGTH - 12)}~${hash53(id).toString(36).padStart(11, '0')}`;
}
