import { declaredSettings } from './settings.js';

export const TABLE_START =
  '<!-- settings table: generated from src/composition/settings.ts by `npx tsx dev/settings-doc.ts` -->';
export const TABLE_END = '<!-- end of settings table -->';

const READ_BY = { app: 'the app', host: 'the host', both: 'the app and the host' } as const;

/** The Function App's settings as the Markdown table of docs/configuration.md. */
export function settingsTable(): string {
  const rows = declaredSettings().map((s) =>
    [
      `\`${s.name}\``,
      s.default === undefined ? 'none' : `\`${s.default}\``,
      s.required,
      s.secret ? '**yes**' : 'no',
      READ_BY[s.readBy],
      s.description.replace(/\|/g, '\\|'),
    ].join(' | '),
  );
  return [
    '| name | default | required | secret | read by | what it does |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

/** `document` with the text between the table markers replaced by the current table. */
export function withSettingsTable(document: string): string {
  const start = document.indexOf(TABLE_START);
  const end = document.indexOf(TABLE_END);
  if (start === -1 || end < start) throw new Error('the settings table markers are missing');
  return `${document.slice(0, start + TABLE_START.length)}\n${settingsTable()}\n${document.slice(end)}`;
}
