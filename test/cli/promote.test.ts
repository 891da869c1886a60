import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { parsePromoteArgs, runPromote } from '../../src/cli/promote-command.js';
import { runMain } from '../helpers/cli.js';

const MODEL = 'llama-3.1-8b-instruct';
let dir: string;

function write(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

const evaluation = (fields: Record<string, unknown>) => ({
  type: 'evaluation',
  schemaVersion: 1,
  eventId: 'ev-cand',
  model: MODEL,
  modelVersion: '8',
  dataset: 'support-qa@3',
  metrics: { exact_match: 0.81, f1: 0.88, toxicity: 0.0, completed: 1 },
  evaluatedAt: '2026-03-02T01:00:00Z',
  ...fields,
});

function args(overrides: Record<string, string> = {}): string[] {
  const values: Record<string, string> = {
    model: MODEL,
    candidate: '8',
    current: '7',
    registration: write('registration.json', {
      model: MODEL,
      version: '8',
      modelUri: 'azureml://jobs/retrain-1/outputs/model',
      jobName: 'retrain-1',
      jobStatus: 'Completed',
    }),
    evaluations: write(
      'evaluations.ndjson',
      [
        evaluation({ eventId: 'ev-cur', modelVersion: '7', f1: 0.87, evaluatedAt: '2026-03-01T01:00:00Z' }),
        evaluation({}),
      ]
        .map((e) => JSON.stringify(e))
        .join('\n'),
    ),
    'cost-gate': write('cost-gate.json', { verdict: 'pass', reasons: [], trafficDays: ['2026-03-01'] }),
    rules: 'rules/quality-gates.json',
    out: join(dir, 'out'),
    at: '2026-03-02T02:00:00Z',
    ...overrides,
  };
  return ['promote', ...Object.entries(values).flatMap(([k, v]) => [`--${k}`, v])];
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'promote-'));
});

describe('chargeback promote', () => {
  it('exits 0 on PROMOTE, writes the verdict and the overlay, and applies nothing', async () => {
    const result = await runMain(args());
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^PROMOTE llama-3.1-8b-instruct version 8 \(in service: 7\): overlay in .*not applied/,
    );
    const verdict = JSON.parse(readFileSync(join(dir, 'out', 'promotion.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(verdict).toMatchObject({
      decision: 'promote',
      candidateVersion: '8',
      currentVersion: '7',
      reasons: [],
    });
    const kustomization = parse(readFileSync(join(dir, 'out', 'overlay', 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
    };
    // The base is named relative to the overlay, so the folder can move into a pull request as is.
    expect(join(dir, 'out', 'overlay', kustomization.resources[0] ?? '')).toBe(
      join(process.cwd(), 'vllm-deploy'),
    );
    expect(existsSync(join(dir, 'out', 'overlay', 'promote-patch.yaml'))).toBe(true);
  });

  it('runs the applier only with --apply, on the overlay it wrote', async () => {
    const apply = vi.fn(() => Promise.resolve());
    const plain = parsePromoteArgs(args().slice(1));
    if (plain === 'help') throw new Error('help');
    expect((await runPromote(plain, apply)).applied).toBe(false);
    expect(apply).not.toHaveBeenCalled();
    const asked = parsePromoteArgs([...args().slice(1), '--apply']);
    if (asked === 'help') throw new Error('help');
    const outcome = await runPromote(asked, apply);
    expect(apply).toHaveBeenCalledExactlyOnceWith(outcome.overlay);
    expect(outcome.applied).toBe(true);
  });

  it('exits 1 on HOLD with the reasons, writes no overlay and applies nothing even with --apply', async () => {
    const apply = vi.fn(() => Promise.resolve());
    const options = parsePromoteArgs([
      ...args({
        'cost-gate': write('cost-gate-failed.json', {
          verdict: 'fail',
          reasons: ['up 9% > 5%'],
          trafficDays: ['2026-03-01'],
        }),
      }).slice(1),
      '--apply',
    ]);
    if (options === 'help') throw new Error('help');
    const outcome = await runPromote(options, apply);
    expect(outcome.code).toBe(1);
    expect(outcome.verdict.reasons).toEqual(['cost gate: up 9% > 5%']);
    expect(apply).not.toHaveBeenCalled();
    expect(existsSync(join(dir, 'out', 'overlay'))).toBe(false);
    const main = await runMain(args({ 'cost-gate': join(dir, 'absent.json') }));
    expect(main.code).toBe(1);
    expect(main.stdout).toMatch(/^HOLD /);
    expect(main.stderr).toMatch(/no release cost gate evidence: cannot read --cost-gate .*absent\.json/);
  });

  it('holds on a job that failed, naming it', async () => {
    const result = await runMain(
      args({
        registration: write('r.json', { jobName: 'retrain-1', jobStatus: 'Failed', registered: false }),
      }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/retraining job retrain-1 is Failed, not Completed/);
    expect(result.stderr).toMatch(/version 8 is not registered/);
  });

  it('holds on a completed job whose output was not registered, with the recorded reason', async () => {
    const reason = 'not registered after 5 attempts; the last: 503 ServiceUnavailable';
    const result = await runMain(
      args({
        registration: write('r.json', {
          jobName: 'retrain-1',
          jobStatus: 'Completed',
          registered: false,
          reason,
        }),
      }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`version 8 is not registered in the workspace: ${reason}`);
  });

  it('holds on evaluations that cannot be read, naming the line', async () => {
    const result = await runMain(args({ evaluations: write('bad.ndjson', '{"type":"evaluation"}\n') }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--evaluations .*bad\.ndjson: event 1: /);
  });

  it('exits 2 on bad arguments, naming them', async () => {
    expect(await runMain(['promote', '--model', MODEL])).toMatchObject({ code: 2 });
    const missing = await runMain(['promote', '--model', MODEL]);
    expect(missing.stderr).toMatch(/promote needs --candidate, --current, --registration/);
    const version = await runMain(args({ candidate: '../8' }));
    expect(version).toMatchObject({ code: 2 });
    expect(version.stderr).toMatch(/--candidate must be a model version/);
    expect((await runMain(args({ at: 'yesterday' }))).code).toBe(2);
    expect((await runMain([...args(), '--bogus'])).code).toBe(2);
  });
});
