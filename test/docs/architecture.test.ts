import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * docs/architecture.md names the repository's folders in tables: the top-level table under
 * "## Layout", and one table per folder under a heading `### \`folder/\``. The first cell of each
 * row names entries of that folder; every entry of the folder must be named, and every name must
 * exist, so the page cannot drift from the tree unnoticed.
 */
const PAGE_PATH = 'docs/architecture.md';
const PAGE = readFileSync(PAGE_PATH, 'utf8');

/** Top-level folders git ignores (build output, caches), read from .gitignore's `name/` lines. */
const IGNORED_TOP = new Set(
  readFileSync('.gitignore', 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^[^#/*!][^/*]*\/$/.test(line))
    .map((line) => line.slice(0, -1)),
);

interface FolderTable {
  /** The folder the table lists, relative to the repository root ('' for the root). */
  readonly folder: string;
  /** The names in the first cells, as written (a folder ends in `/`). */
  readonly names: readonly string[];
}

/** The code spans of a Markdown fragment. */
function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
}

/** The first cells' code spans of the table rows in `body`, header and rule rows left out. */
function firstCellNames(body: string): string[] {
  const rows = body.split('\n').filter((line) => line.startsWith('|') && !/^\|[-| ]+\|$/.test(line));
  return rows.slice(1).flatMap((row) => codeSpans(row.split('|')[1] ?? ''));
}

/** The page's sections: each heading's text and the lines up to the next heading. */
function sections(page: string): { heading: string; body: string }[] {
  return page
    .split(/^(?=#{2,3} )/m)
    .filter((part) => part.startsWith('#'))
    .map((part) => {
      const newline = part.indexOf('\n');
      return { heading: part.slice(0, newline).replace(/^#+ /, ''), body: part.slice(newline + 1) };
    });
}

function folderTables(page: string): FolderTable[] {
  return sections(page).flatMap(({ heading, body }) => {
    if (heading === 'Layout') return [{ folder: '', names: firstCellNames(body) }];
    const folder = /^`([^`]+\/)`$/.exec(heading)?.[1];
    return folder === undefined ? [] : [{ folder: folder.slice(0, -1), names: firstCellNames(body) }];
  });
}

/** A folder's entries as the page names them: folders with a trailing `/`, hidden ones left out. */
function entries(folder: string): string[] {
  return readdirSync(folder === '' ? '.' : folder, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .filter((e) => folder !== '' || (e.isDirectory() && !IGNORED_TOP.has(e.name)))
    .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
    .sort();
}

/** A name of the page as an entry of its folder: `src/domain/` in the root table is `src/`'s child. */
function asEntry(folder: string, name: string): string {
  return folder === '' ? `${name.split('/')[0] ?? ''}/` : name;
}

const TABLES = folderTables(PAGE);

describe('docs/architecture.md: the layout lists match the tree', () => {
  it('lists the folders the layering and the deployables rest on', () => {
    expect(TABLES.map((t) => t.folder)).toEqual(
      expect.arrayContaining([
        '',
        'src',
        'src/domain',
        'src/ports',
        'src/usecases',
        'src/adapters',
        'src/composition',
        'functions',
      ]),
    );
  });

  it.each(TABLES.map((t) => [t.folder === '' ? '(root)' : `${t.folder}/`, t] as const))(
    '%s: every name on the page exists',
    (_, table) => {
      const missing = table.names.filter((name) => !existsSync(join(table.folder, name)));
      expect(missing, `named in ${PAGE_PATH} but not in ${table.folder || 'the root'}`).toEqual([]);
    },
  );

  it.each(TABLES.map((t) => [t.folder === '' ? '(root)' : `${t.folder}/`, t] as const))(
    '%s: every entry of the folder is named on the page',
    (_, table) => {
      const named = new Set(table.names.map((name) => asEntry(table.folder, name)));
      const unnamed = entries(table.folder).filter((entry) => !named.has(entry));
      expect(unnamed, `in ${table.folder || 'the root'} but not named in ${PAGE_PATH}`).toEqual([]);
    },
  );

  it('every repository path the page cites elsewhere exists', () => {
    const cited = codeSpans(PAGE).filter(
      (span) =>
        /^(src|functions|test|dev|bench|scripts|vllm-deploy|bicep|docs|rules|prices|tools|bin)\/[\w./-]*$/.test(
          span,
        ) && !span.includes('*'),
    );
    expect(cited.length).toBeGreaterThan(10);
    expect(cited.filter((path) => !existsSync(path))).toEqual([]);
  });
});

describe('the drift check itself', () => {
  it('reads a folder table and its names from a heading and first cells', () => {
    const page =
      '## Layout\n\n| f | w |\n|---|---|\n| `a/` | x |\n\n### `a/`\n\n| n | w |\n|---|---|\n| `b.ts`, `c/` | `z.ts` |\n';
    expect(folderTables(page)).toEqual([
      { folder: '', names: ['a/'] },
      { folder: 'a', names: ['b.ts', 'c/'] },
    ]);
  });
});
