import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findCycles, importGraph, sourcesUnder } from '../../scripts/check-cycles.js';

const root = mkdtempSync(join(tmpdir(), 'cycles-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Writes the fixture files into a fresh folder and returns its cycles, as paths relative to it. */
function cyclesOf(name: string, files: Record<string, string>): string[][] {
  const dir = join(root, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return findCycles(importGraph(sourcesUnder([dir]))).map((c) => c.map((f) => f.slice(dir.length + 1)));
}

describe('scripts/check-cycles', () => {
  it('finds a two-file cycle made only of type imports', () => {
    expect(
      cyclesOf('types', {
        'a.ts': "import type { B } from './b.js';\nexport interface A { b: B }\n",
        'b.ts': "import { type A } from './a.js';\nexport interface B { a?: A }\n",
      }),
    ).toEqual([['a.ts', 'b.ts', 'a.ts']]);
  });

  it('follows re-exports, dynamic imports and folders, and ignores specifiers in comments and strings', () => {
    expect(
      cyclesOf('kinds', {
        'x/a.ts': "export * from '../y/b.js';\n",
        'y/b.ts': "export const load = () => import('../z/c.js');\n",
        'z/c.ts': "export { a } from '../x/a.js';\nexport const a = 1;\n",
        'free.ts': "// import './other.js'\nexport const s = \"import './free.js'\";\n",
        'other.ts': "import './free.js';\n",
      }),
    ).toEqual([['x/a.ts', 'y/b.ts', 'z/c.ts', 'x/a.ts']]);
  });

  it('reports nothing for a graph without cycles, and a self-import as a cycle of one', () => {
    expect(cyclesOf('tree', { 'a.ts': "import './b.js';\n", 'b.ts': 'export {};\n' })).toEqual([]);
    expect(cyclesOf('self', { 'a.ts': "import './a.js';\n" })).toEqual([['a.ts', 'a.ts']]);
  });

  it('the repository has no import cycle, and the command exits 1 on one', () => {
    expect(findCycles(importGraph(sourcesUnder(['src', 'functions', 'dev', 'bench', 'test'])))).toEqual([]);
    const run = (dir: string): number => {
      try {
        execFileSync(process.execPath, ['--import', 'tsx', 'scripts/check-cycles.ts', dir], {
          stdio: 'pipe',
        });
        return 0;
      } catch (error) {
        return (error as { status: number }).status;
      }
    };
    expect(run(join(root, 'types'))).toBe(1);
    expect(run(join(root, 'tree'))).toBe(0);
  });
});
