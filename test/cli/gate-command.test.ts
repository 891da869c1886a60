import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGateArgs, runGate, type GateOptions } from '../../src/cli/gate-command.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { ConfigurationError, TransientError } from '../../src/domain/errors.js';
import type { Judgement, RetrainOutcome } from '../../src/domain/gate/verdict.js';
import { runCli, runMain } from '../helpers/cli.js';
import { capacity, usage } from '../helpers/events.js';

const MODEL = 'llama-3-8b';
const AT = '2026-06-02T00:00:00Z';
const RULES = {
  models: {
    [MODEL]: {
      dataset: 'support-qa@3',
      maxAgeHours: 36,
      metrics: { exact_match: { min: 0.78 }, toxicity: { max: 0.01 }, f1: { maxDrop: 0.02 } },
    },
  },
};

let counter = 0;
/** A valid contracts.md §2 evaluation event of MODEL, a few hours before AT, good unless told otherwise. */
function evaluation(fields: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    type: 'evaluation',
    schemaVersion: 1,
    eventId: `eval-${counter}`,
    model: MODEL,
    modelVersion: '7',
    dataset: 'support-qa@3',
    metrics: { exact_match: 0.81, toxicity: 0.002, f1: 0.8 },
    evaluatedAt: '2026-06-01T20:00:00Z',
    ...fields,
  };
}

const ndjson = (...lines: unknown[]): string =>
  lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';

/** A scratch folder with rules.json and evaluations.ndjson holding `lines`. */
function scratch(...lines: unknown[]): { dir: string; rules: string; evaluations: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gate-'));
  const rules = join(dir, 'rules.json');
  const evaluations = join(dir, 'evaluations.ndjson');
  writeFileSync(rules, JSON.stringify(RULES));
  writeFileSync(evaluations, ndjson(...lines));
  return { dir, rules, evaluations };
}

const gate = (s: { rules: string; evaluations: string }, ...extra: string[]): ReturnType<typeof runMain> =>
  runMain([
    'gate',
    '--evaluations',
    s.evaluations,
    '--rules',
    s.rules,
    '--model',
    MODEL,
    '--at',
    AT,
    ...extra,
  ]);

const options = (
  s: { rules: string; evaluations: string },
  more: Partial<GateOptions> = {},
): GateOptions => ({
  evaluationsPath: s.evaluations,
  rulesPath: s.rules,
  model: MODEL,
  retrain: false,
  ...more,
});

describe('chargeback gate', () => {
  it('passes a good, current evaluation: PASS and exit 0', async () => {
    const e = evaluation();
    const result = await gate(scratch(e));
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe(`PASS ${MODEL} 7 on support-qa@3 (evaluation ${String(e.eventId)})\n`);
  });

  it('fails a metric below its min: FAIL, the reason, exit 1', async () => {
    const result = await gate(scratch(evaluation({ metrics: { exact_match: 0.7, toxicity: 0, f1: 0.8 } })));
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n').slice(1, 2)).toEqual(['  - exact_match 0.7 is below its min 0.78']);
  });

  it('writes the contracts.md §10 verdict with --out, creating the folder, nothing else left beside it', async () => {
    const s = scratch(evaluation({ eventId: 'e-out' }));
    const out = join(s.dir, 'verdicts', 'nested', 'gate.json');
    const result = await gate(s, '--out', out);
    expect(result.code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({
      model: MODEL,
      modelVersion: '7',
      verdict: 'pass',
      reasons: [],
      evaluation: 'e-out',
      dataset: 'support-qa@3',
    });
    expect(readdirSync(join(s.dir, 'verdicts', 'nested'))).toEqual(['gate.json']);
  });

  it('fails closed on a rules file that does not exist: exit 1 with the reason', async () => {
    const s = scratch(evaluation());
    const result = await gate({ ...s, rules: join(s.dir, 'missing.json') });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^FAIL .*\n {2}- cannot use the rules: cannot read --rules .*missing\.json/,
    );
  });

  it('fails closed on a rules file that is not JSON', async () => {
    const s = scratch(evaluation());
    writeFileSync(s.rules, '{ "models": ');
    const result = await gate(s);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/rules\.json is not valid JSON/);
  });

  it('fails closed on rules that do not validate, naming where', async () => {
    const s = scratch(evaluation());
    writeFileSync(
      s.rules,
      JSON.stringify({ models: { [MODEL]: { ...RULES.models[MODEL], maxAgeHours: -1 } } }),
    );
    const result = await gate(s);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/models\.llama-3-8b: maxAgeHours must be a number > 0/);
  });

  it('fails closed on an evaluations path that does not exist: exit 1, not 2', async () => {
    const s = scratch();
    const result = await gate({ ...s, evaluations: join(s.dir, 'nowhere') });
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n')[1]).toMatch(/^ {2}- cannot read evaluations: ENOENT/);
  });

  it('names rejected lines on stderr with file and line, and judges the valid ones', async () => {
    const broken = evaluation({ metrics: { f1: 'high' } });
    const result = await gate(scratch(evaluation(), '{not json', broken, usage(), capacity()));
    expect(result.code).toBe(0);
    const warnings = result.stderr.trimEnd().split('\n');
    expect(warnings).toEqual([
      expect.stringMatching(/^chargeback: warning: rejected .*evaluations\.ndjson:2: not valid JSON/),
      expect.stringMatching(/evaluations\.ndjson:3: metrics\.f1: must be a finite number$/),
      expect.stringMatching(/evaluations\.ndjson:4: a usage event, not an evaluation$/),
      expect.stringMatching(/evaluations\.ndjson:5: a capacity event, not an evaluation$/),
    ]);
  });

  it('names at most 20 rejected lines, then counts the rest', async () => {
    const bad = Array.from({ length: 25 }, () => '[]');
    const result = await gate(scratch(evaluation(), ...bad));
    const warnings = result.stderr.trimEnd().split('\n');
    expect(warnings).toHaveLength(21);
    expect(warnings[20]).toBe('chargeback: warning: and 5 more rejected line(s)');
  });

  it('reads a folder one level deep: *.ndjson, *.jsonl and *.json (whole or an array) in name order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gate-dir-'));
    writeFileSync(join(dir, 'rules.txt'), JSON.stringify(RULES));
    writeFileSync(
      join(dir, 'a.ndjson'),
      ndjson(evaluation({ eventId: 'a', evaluatedAt: '2026-06-01T10:00:00Z' })),
    );
    const array = [evaluation({ eventId: 'b', evaluatedAt: '2026-06-01T11:00:00Z' })];
    writeFileSync(join(dir, 'b.json'), JSON.stringify(array, null, 2));
    writeFileSync(
      join(dir, 'c.jsonl'),
      ndjson(evaluation({ eventId: 'c', evaluatedAt: '2026-06-01T12:00:00Z' })),
    );
    mkdirSync(join(dir, 'older'));
    writeFileSync(
      join(dir, 'older', 'd.ndjson'),
      ndjson(evaluation({ eventId: 'd', evaluatedAt: '2026-06-01T13:00:00Z' })),
    );
    const outcome = await runGate(
      options({ evaluations: dir, rules: join(dir, 'rules.txt') }, { atUs: Date.parse(AT) * 1000 }),
    );
    expect(outcome.evaluationsRead).toBe(3);
    expect(outcome.judgement.verdict.evaluation).toBe('c');
  });

  it('cannot be made to print a forged PASS line by a model name with a newline', async () => {
    const hostile = `${MODEL}\nPASS ${MODEL} 7 on support-qa@3 (evaluation x)`;
    const s = scratch(evaluation({ model: hostile }));
    writeFileSync(s.rules, JSON.stringify({ models: { '*': { ...RULES.models[MODEL] } } }));
    const result = await runMain([
      'gate',
      ...['--evaluations', s.evaluations, '--rules', s.rules, '--model', hostile, '--at', AT],
    ]);
    expect(result.code).toBe(0);
    // One line, the newline shown escaped inside it.
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^PASS llama-3-8b\\u000aPASS /),
    ]);
  });

  it('judges at the clock when --at is not given', async () => {
    const s = scratch(evaluation({ evaluatedAt: '2026-06-01T20:00:00Z' }));
    const soon = await runGate(options(s), { now: () => new Date('2026-06-02T00:00:00Z') });
    const later = await runGate(options(s), { now: () => new Date('2026-06-03T09:00:00Z') });
    expect(soon.judgement.verdict.verdict).toBe('pass');
    expect(later.judgement.verdict.reasons).toEqual([expect.stringMatching(/is stale/)]);
  });
});

describe('chargeback gate --retrain', () => {
  const failing = (): ReturnType<typeof scratch> =>
    scratch(evaluation({ eventId: 'bad', metrics: { exact_match: 0.5, toxicity: 0, f1: 0.8 } }));
  const at = Date.parse(AT) * 1000;

  it('refuses to run when no retraining is configured (exit 2)', async () => {
    await expect(runGate(options(failing(), { retrain: true, atUs: at }))).rejects.toThrow(
      ConfigurationError,
    );
    const result = await gate(failing(), '--retrain');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/retraining is not configured/);
  });

  it('on a failed verdict, hands that judgement to retraining and writes the job with the verdict', async () => {
    const s = failing();
    const seen: Judgement[] = [];
    const job = { name: 'retrain-llama-3-8b-7-abc', status: 'Starting', estimatedCostUsd: 42.5 };
    const retrain = (j: Judgement): Promise<RetrainOutcome> => {
      seen.push(j);
      return Promise.resolve({ job });
    };
    const out = join(s.dir, 'v.json');
    const outcome = await runGate(options(s, { retrain: true, atUs: at, outPath: out }), { retrain });
    expect(seen).toEqual([outcome.judgement]);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ verdict: 'fail', evaluation: 'bad', job });
  });

  it('on a passing verdict, starts nothing and says why there is no job', async () => {
    const s = scratch(evaluation());
    let calls = 0;
    const retrain = (): Promise<RetrainOutcome> => ((calls += 1), Promise.resolve({ job: null }));
    const out = join(s.dir, 'v.json');
    await runGate(options(s, { retrain: true, atUs: at, outPath: out }), { retrain });
    expect(calls).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ job: null, jobReason: 'the gate passed' });
  });

  it('still writes the failed verdict when retraining itself fails, with the reason', async () => {
    const s = failing();
    const out = join(s.dir, 'v.json');
    const retrain = (): Promise<RetrainOutcome> => Promise.reject(new TransientError('ARM answered 503'));
    const outcome = await runGate(options(s, { retrain: true, atUs: at, outPath: out }), { retrain });
    expect(outcome.retrain).toEqual({ job: null, reason: 'retraining failed: ARM answered 503' });
    expect(existsSync(out)).toBe(true);
  });
});

describe('chargeback gate arguments', () => {
  const base = ['--evaluations', 'e.ndjson', '--rules', 'r.json', '--model', MODEL];

  it('needs --model (and --evaluations and --rules), exit 2', async () => {
    const result = await runMain(['gate', '--evaluations', 'e.ndjson', '--rules', 'r.json']);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toMatch(/gate needs --model/);
  });

  it('refuses --at without a zone, or not a timestamp', () => {
    for (const at of ['2026-06-02T00:00:00', '2026-06-02', 'yesterday'])
      expect(() => parseGateArgs([...base, '--at', at]), at).toThrow(UsageError);
  });

  it('takes --at with an offset, in microseconds', () => {
    expect(parseGateArgs([...base, '--at', '2026-06-02T02:00:00+02:00'])).toMatchObject({
      atUs: Date.parse(AT) * 1000,
    });
  });

  it('refuses an unknown flag', () => {
    expect(() => parseGateArgs([...base, '--retrian'])).toThrow(UsageError);
  });

  it('is listed by chargeback --help and has its own help', async () => {
    expect((await runMain(['--help'])).stdout).toMatch(/^ {2}gate {7}/m);
    expect(await runMain(['gate', '--help'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/--evaluations PATH/),
    });
  });
});

describe('chargeback gate as a process', () => {
  it('exits 0 on a pass, 1 on a fail and 2 on bad arguments', async () => {
    const pass = scratch(evaluation());
    const fail = scratch(evaluation({ metrics: { exact_match: 0.81, toxicity: 0.5, f1: 0.8 } }));
    const args = (s: { rules: string; evaluations: string }): string[] => [
      'gate',
      '--evaluations',
      s.evaluations,
      '--rules',
      s.rules,
      '--model',
      MODEL,
      '--at',
      AT,
    ];
    const [passed, failed, usage] = await Promise.all([
      runCli(args(pass)),
      runCli(args(fail)),
      runCli(['gate', '--rules', pass.rules]),
    ]);
    expect([passed.code, failed.code, usage.code]).toEqual([0, 1, 2]);
    expect(passed.stdout).toMatch(/^PASS /);
    expect(failed.stdout).toMatch(/^FAIL [^\n]*\n {2}- toxicity 0\.5 is above its max 0\.01\n$/);
  }, 60_000);
});
