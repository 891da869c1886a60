import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * docs/contracts.md is cited by section number from code and manuals. Each numbered heading has an
 * anchor of its number, the list at the top names every section, and every citation in the
 * repository names a section that exists, so that citations stay resolvable as the page changes.
 */
const PAGE_PATH = 'docs/contracts.md';
const PAGE = readFileSync(PAGE_PATH, 'utf8');

/** Where citations live: the code, the manuals, the deployment files, the harnesses and the tests. */
const CITING = ['src', 'docs', 'functions', 'bicep', 'dev', 'bench', 'vllm-deploy', 'test', 'scripts'];
const CITING_FILES = ['README.md'];

/** `## 4. Accounting rules` and `### 4.6 Exactly once` give 4 and 4.6. */
function headingNumbers(page: string): string[] {
  return [...page.matchAll(/^#{2,3} (\d+(?:\.\d+)*)\.? /gm)].map((m) => m[1] ?? '');
}

/** The section numbers of the list at the top: the link texts of its `[n](#sn)` links. */
function listedNumbers(page: string): string[] {
  const line = /^\*\*Sections:\*\*([\s\S]*?)\n\n/m.exec(page)?.[1] ?? '';
  return [...line.matchAll(/\[(\d+(?:\.\d+)*)\]\(#s\1\)/g)].map((m) => m[1] ?? '');
}

/** Section numbers cited in a text: `SPEC 4.6`, `SPEC section 2`, `SPEC sections 5 and 8`, `contracts.md §4.6`. */
export function citedNumbers(text: string): string[] {
  const cited: string[] = [];
  for (const m of text.matchAll(/\bSPEC (?:sections? )?(\d+(?:\.\d+)*)(?:,? and (\d+(?:\.\d+)*))?/g)) {
    cited.push(m[1] ?? '');
    if (m[2] !== undefined) cited.push(m[2]);
  }
  for (const m of text.matchAll(/contracts\.md ?§ ?(\d+(?:\.\d+)*)/g)) cited.push(m[1] ?? '');
  for (const m of text.matchAll(/contracts\.md#s(\d+(?:\.\d+)*)\b/g)) cited.push(m[1] ?? '');
  return cited;
}

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.') && e.name !== 'node_modules')
    .flatMap((e) => filesUnder(join(path, e.name)));
}

/** GitHub's anchor for a heading: lower case, punctuation other than `-` dropped, spaces to `-`. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  const headings = [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] ?? ''));
  const explicit = [...markdown.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1] ?? '');
  return new Set([...headings, ...explicit]);
}

const NUMBERS = headingNumbers(PAGE);

describe('docs/contracts.md: sections and their numbers', () => {
  it('numbers its sections 1 to 16, each once', () => {
    const top = NUMBERS.filter((n) => !n.includes('.'));
    expect(top).toEqual(Array.from({ length: 16 }, (_, i) => String(i + 1)));
    expect(new Set(NUMBERS).size).toBe(NUMBERS.length);
  });

  it('gives every numbered heading the anchor of its number, just before it', () => {
    const unanchored = NUMBERS.filter(
      (n) =>
        !new RegExp(`<a id="s${n.replace(/\./g, '\\.')}"></a>\\n\\n#{2,3} ${n.replace(/\./g, '\\.')}`).test(
          PAGE,
        ),
    );
    expect(unanchored).toEqual([]);
  });

  it('lists exactly its sections at the top', () => {
    expect(listedNumbers(PAGE)).toEqual(NUMBERS);
  });

  it('has every section the repository cites', () => {
    const files = [...CITING.flatMap(filesUnder), ...CITING_FILES].filter((f) =>
      /\.(ts|md|bicep|ya?ml|js|json)$/.test(f),
    );
    const missing = files.flatMap((file) =>
      citedNumbers(readFileSync(file, 'utf8'))
        .filter((n) => !NUMBERS.includes(n))
        .map((n) => `${file}: ${n}`),
    );
    expect(files.length).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });

  it('links only to files and headings that exist', () => {
    const broken = [...PAGE.matchAll(/\]\(([^)]+)\)/g)]
      .map((m) => m[1] ?? '')
      .filter((target) => !/^[a-z]+:/.test(target))
      .filter((target) => {
        const [file = '', anchor] = target.split('#');
        const path = file === '' ? PAGE_PATH : join(dirname(PAGE_PATH), file);
        if (!existsSync(path)) return true;
        return anchor !== undefined && !anchorsOf(readFileSync(path, 'utf8')).has(anchor);
      });
    expect(broken).toEqual([]);
  });
});

describe('the citation reader', () => {
  it('reads every form a citation takes', () => {
    expect(
      citedNumbers(
        'SPEC 4.6; SPEC section 2; SPEC sections 5 and 8; docs/contracts.md §10; contracts.md#s7.1',
      ),
    ).toEqual(['4.6', '2', '5', '8', '10', '7.1']);
  });
});
