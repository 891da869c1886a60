/**
 * The retraining job's Python suite (`training/tests`, pytest on CPU with gloo), run once when this
 * file is collected; every pytest case becomes a case here, so a case pytest skipped (FSDP where
 * the installed PyTorch cannot run it) is reported skipped, with its reason, never passed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pythonWithDeps } from '../../scripts/python-deps.js';

interface Case {
  readonly name: string;
  readonly outcome: 'passed' | 'failed' | 'skipped';
  readonly detail: string;
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
    .replace(/&amp;/g, '&');
}

/** The cases of pytest's JUnit XML report. */
function junitCases(xml: string): Case[] {
  return [...xml.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => {
    const attrs = m[1] ?? '';
    const body = m[2] ?? '';
    const attr = (name: string): string =>
      unescapeXml(new RegExp(`(?:^|\\s)${name}="([^"]*)"`).exec(attrs)?.[1] ?? '');
    const name = `${attr('classname')}::${attr('name')}`;
    const problem = /<(failure|error)\b[^>]*?(?:message="([^"]*)")?[^>]*>([\s\S]*?)<\/\1>/.exec(body);
    if (problem !== null || /<(failure|error)\b/.test(body))
      return { name, outcome: 'failed', detail: unescapeXml(problem?.[3] ?? problem?.[2] ?? body) };
    const skipped = /<skipped\b[^>]*?message="([^"]*)"/.exec(body);
    if (skipped !== null || /<skipped\b/.test(body))
      return { name, outcome: 'skipped', detail: unescapeXml(skipped?.[1] ?? '') };
    return { name, outcome: 'passed', detail: '' };
  });
}

function runPytest(): { status: number; output: string; cases: Case[] } {
  const python = pythonWithDeps();
  const dir = mkdtempSync(join(tmpdir(), 'training-pytest-'));
  const report = join(dir, 'junit.xml');
  let status = 0;
  let output = '';
  try {
    output = execFileSync(
      python,
      ['-m', 'pytest', 'training/tests', '-q', '-rs', '-p', 'no:cacheprovider', `--junitxml=${report}`],
      {
        encoding: 'utf8',
        timeout: 300_000,
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', CUDA_VISIBLE_DEVICES: '' },
      },
    );
  } catch (error) {
    const e = error as { status?: number | null; stdout?: string; stderr?: string };
    status = e.status ?? -1;
    output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
  let cases: Case[] = [];
  try {
    cases = junitCases(readFileSync(report, 'utf8'));
  } catch {
    // no report: pytest did not get as far as running; the status and output say why
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { status, output, cases };
}

const RUN = runPytest();

describe('training/tests (pytest)', () => {
  it('pytest ran the suite and exited 0', () => {
    expect(RUN.cases.length, RUN.output).toBeGreaterThan(10);
    expect(RUN.status, RUN.output).toBe(0);
  });

  for (const c of RUN.cases) {
    if (c.outcome === 'skipped') {
      it.skip(`${c.name} (skipped by pytest: ${c.detail})`, () => {});
      console.warn(`training/tests: skipped, not passed: ${c.name}: ${c.detail}`);
    } else
      it(c.name, () => {
        expect(c.outcome, c.detail).toBe('passed');
      });
  }
});

describe('the JUnit reading itself', () => {
  it('tells passed, failed and skipped cases apart', () => {
    const xml =
      '<testsuite><testcase classname="a" name="ok" time="1"/>' +
      '<testcase classname="a" name="bad"><failure message="boom">assert 1 == 2 &amp; more</failure></testcase>' +
      '<testcase classname="b" name="later"><skipped type="pytest.skip" message="FSDP not run: &quot;x&quot;">s</skipped></testcase></testsuite>';
    expect(junitCases(xml)).toEqual([
      { name: 'a::ok', outcome: 'passed', detail: '' },
      { name: 'a::bad', outcome: 'failed', detail: 'assert 1 == 2 & more' },
      { name: 'b::later', outcome: 'skipped', detail: 'FSDP not run: "x"' },
    ]);
  });
});
