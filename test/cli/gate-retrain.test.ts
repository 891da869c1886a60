import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAmlStandIn, type AmlStandIn } from '../../dev/aml-stand-in.js';
import { runCli } from '../helpers/cli.js';

/**
 * `chargeback gate --retrain` as CI runs it: a real process, the real Azure ML SDK, and the loopback
 * HTTPS stand-in (its test CA trusted through NODE_EXTRA_CA_CERTS, set by vitest.config.ts and
 * inherited by the process). No LEDGER_STORAGE_* settings: the job name alone keeps a rerun from
 * submitting twice.
 */
let aml: AmlStandIn;
let dir: string;
let env: NodeJS.ProcessEnv;

const evaluation = (exactMatch: number) =>
  JSON.stringify({
    type: 'evaluation',
    schemaVersion: 1,
    eventId: 'nightly-2026-11-20',
    model: 'llama-3.1-8b-instruct',
    modelVersion: '7',
    dataset: 'support-qa@3',
    metrics: { exact_match: exactMatch, f1: 0.9, toxicity: 0.001 },
    evaluatedAt: '2026-11-20T02:00:00Z',
    commit: '9f8e7d6',
  });

beforeAll(async () => {
  aml = await startAmlStandIn();
  dir = await mkdtemp(join(tmpdir(), 'gate-retrain-'));
  const tokenFile = join(dir, 'token.json');
  await writeFile(
    tokenFile,
    JSON.stringify({ accessToken: aml.token, expiresOn: '2099-01-01 00:00:00.000000' }),
  );
  const ws =
    '/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1';
  env = {
    ...without(
      process.env,
      'LEDGER_STORAGE_CONNECTION_STRING',
      'LEDGER_STORAGE_ACCOUNT_NAME',
      'TEAMS_WEBHOOK_URL',
    ),
    AML_SUBSCRIPTION_ID: 'sub-1',
    AML_RESOURCE_GROUP: 'rg-1',
    AML_WORKSPACE: 'ws-1',
    AML_COMPUTE: 'a100-cluster',
    AML_ENVIRONMENT_ID: `${ws}/environments/train/versions/1`,
    AML_CODE_ID: `${ws}/codes/train/versions/1`,
    RETRAIN_MAX_USD: '500',
    AZURE_ARM_ENDPOINT: aml.url,
    AZURE_ARM_TOKEN_FILE: tokenFile,
  };
});

function without(source: NodeJS.ProcessEnv, ...names: string[]): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(source).filter(([name]) => !names.includes(name)));
}

afterAll(async () => {
  await aml.close();
});

async function gate(exactMatch: number, out: string, extraEnv: NodeJS.ProcessEnv = {}) {
  const evaluations = join(dir, `evals-${exactMatch}.ndjson`);
  await writeFile(evaluations, `${evaluation(exactMatch)}\n`);
  const result = await runCli(
    [
      'gate',
      '--evaluations',
      evaluations,
      '--rules',
      'rules/quality-gates.json',
      '--model',
      'llama-3.1-8b-instruct',
      '--at',
      '2026-11-20T06:00:00Z',
      '--out',
      join(dir, out),
      '--retrain',
    ],
    { env: { ...env, ...extraEnv } },
  );
  const verdict = JSON.parse(await readFile(join(dir, out), 'utf8')) as Record<string, unknown>;
  return { ...result, verdict };
}

describe('chargeback gate --retrain against the Azure ML stand-in', () => {
  it('submits one A100 command job for a regression, and a rerun of the same failure submits none', async () => {
    const first = await gate(0.7, 'first.json');
    expect(first.code).toBe(1);
    expect(first.verdict).toMatchObject({
      verdict: 'fail',
      job: {
        name: expect.stringMatching(/^retrain-llama-3-1-8b-instruct-[0-9a-f]{16}$/),
        status: 'Queued',
        // 1 node of Standard_ND96asr_v4 ($27.197 per VM-hour) for 4 expected hours.
        estimatedCostUsd: 108.79,
      },
    });
    const second = await gate(0.7, 'second.json');
    expect((second.verdict.job as { name: string }).name).toBe((first.verdict.job as { name: string }).name);
    const puts = aml.requests.filter((r) => r.method === 'PUT');
    expect(puts).toHaveLength(1);
    expect(puts[0]?.apiVersion).toBe('2022-10-01');
    expect(puts[0]?.body).toMatchObject({
      properties: {
        jobType: 'Command',
        distribution: { distributionType: 'PyTorch', processCountPerInstance: 8 },
        resources: { instanceCount: 1 },
        tags: { codeCommit: '9f8e7d6', evaluation: 'nightly-2026-11-20' },
      },
    });
  });

  it('refuses a job above RETRAIN_MAX_USD: job null with the estimate in the reason, nothing submitted', async () => {
    const before = aml.requests.filter((r) => r.method === 'PUT').length;
    const refused = await gate(0.71, 'refused.json', { RETRAIN_MAX_USD: '50' });
    expect(refused.code).toBe(1);
    expect(refused.verdict.job).toBeNull();
    expect(String(refused.verdict.jobReason)).toMatch(
      /\$108\.79 exceeds the per-job limit RETRAIN_MAX_USD of \$50\.00/,
    );
    expect(aml.requests.filter((r) => r.method === 'PUT')).toHaveLength(before);
  });

  it('exits 2 naming every retraining setting that is missing', async () => {
    const result = await runCli(
      ['gate', '--evaluations', dir, '--rules', 'rules/quality-gates.json', '--model', 'm', '--retrain'],
      { env: without(env, 'AML_WORKSPACE', 'AML_CODE_ID') },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/AML_WORKSPACE: is required when AML_SUBSCRIPTION_ID is set; AML_CODE_ID/);
  });
});
