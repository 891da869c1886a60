import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/composition/settings.js';
import { bicepPath, ENVIRONMENTS, snapshotArgs } from '../../scripts/bicep.js';
import {
  appSettingsOf,
  leaf,
  loadSnapshot,
  ofType,
  one,
  snapshots,
  type AppSetting,
  type Snapshot,
} from './snapshot.js';

/**
 * The templates compiled, linted and snapshotted by the real Bicep CLI (from NuGet, see
 * scripts/bicep.ts), and the Function App's settings held to the settings the code declares. No
 * Azure subscription is needed. agreements.test.ts holds the snapshots to the manifests and config.
 */
let bicep: string;

function run(args: readonly string[], cwd = 'bicep'): { status: number | null; output: string } {
  const result = spawnSync(bicep, args, { cwd, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const BICEP_FILES = [
  'main.bicep',
  ...readdirSync('bicep/modules')
    .filter((f) => f.endsWith('.bicep'))
    .map((f) => `modules/${f}`),
];

beforeAll(() => {
  bicep = bicepPath();
}, 300_000);

describe('the Bicep templates', () => {
  it('compile', () => {
    const result = run(['build', 'main.bicep', '--stdout']);
    expect(result.status, result.output).toBe(0);
    const template = JSON.parse(result.output.slice(result.output.indexOf('{'))) as { resources?: unknown };
    expect(template.resources).toBeDefined();
  });

  it('pass the linter with no warning at all (security and hygiene rules are errors in bicepconfig.json)', () => {
    expect(BICEP_FILES.length).toBeGreaterThan(10);
    // One run over every file (main.bicep and each module).
    const result = run(['lint', '--pattern', '**/*.bicep']);
    expect(result.status, result.output).toBe(0);
    expect(result.output.trim()).toBe('');
  });

  it('refuse what the linter is configured to refuse (a hard-coded location is an error)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bicep-lint-'));
    writeFileSync(join(dir, 'bicepconfig.json'), readFileSync('bicep/bicepconfig.json'));
    writeFileSync(
      join(dir, 'bad.bicep'),
      "resource ns 'Microsoft.EventHub/namespaces@2026-01-01' = {\n  name: 'x'\n  location: 'eastus'\n}\n",
    );
    const result = run(['lint', 'bad.bicep'], dir);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('no-hardcoded-location');
  });

  it.each(ENVIRONMENTS)('compile with the %s parameters', (environment) => {
    const result = run(['build-params', `${environment}.bicepparam`, '--stdout']);
    expect(result.status, result.output).toBe(0);
  });

  it.each(ENVIRONMENTS)(
    'match the committed %s snapshot (run npm run bicep:snapshot after a change, and review the diff)',
    (environment) => {
      const result = run(snapshotArgs(environment, 'validate'));
      expect(result.status, result.output).toBe(0);
    },
  );
});

describe.each(Object.entries(snapshots))('the %s deployment', (_environment, snapshot) => {
  it('defines the storage the app uses by default, with shared keys off', () => {
    const accounts = ofType(snapshot, 'Microsoft.Storage/storageAccounts');
    expect(accounts.length).toBe(2); // the ledger's, and Azure ML's
    for (const account of accounts) {
      expect(account.properties, account.name).toMatchObject({
        allowSharedKeyAccess: false,
        allowBlobPublicAccess: false,
        minimumTlsVersion: 'TLS1_2',
      });
    }
    const containers = ofType(snapshot, 'Microsoft.Storage/storageAccounts/blobServices/containers').map(
      leaf,
    );
    expect(containers).toEqual(
      expect.arrayContaining([
        SETTINGS.LEDGER_CONTAINER.default,
        SETTINGS.REPORTS_CONTAINER.default,
        SETTINGS.DAY_WORK_CONTAINER.default,
      ]),
    );
    const tables = ofType(snapshot, 'Microsoft.Storage/storageAccounts/tableServices/tables').map(leaf);
    expect(tables.sort()).toEqual(
      [
        SETTINGS.LEDGER_TABLE.default,
        SETTINGS.ALERTS_TABLE.default,
        SETTINGS.QUALITY_TABLE.default,
        SETTINGS.RETRAINING_TABLE.default,
        SETTINGS.DAY_WORK_TABLE.default,
      ].sort(),
    );
    const queues = ofType(snapshot, 'Microsoft.Storage/storageAccounts/queueServices/queues').map(leaf);
    expect(queues).toContain(SETTINGS.RESTATE_QUEUE_NAME.default);
    expect(queues).toContain(SETTINGS.DAY_WORK_QUEUE_NAME.default);
    expect(one(snapshot, 'Microsoft.Storage/storageAccounts/blobServices').properties).toMatchObject({
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true },
    });
  });

  it('defines Key Vaults in RBAC mode with purge protection, and Application Insights without local auth', () => {
    for (const vault of ofType(snapshot, 'Microsoft.KeyVault/vaults')) {
      expect(vault.properties, vault.name).toMatchObject({
        enableRbacAuthorization: true,
        enablePurgeProtection: true,
      });
    }
    expect(one(snapshot, 'Microsoft.Insights/components').properties).toMatchObject({
      DisableLocalAuth: true,
    });
    expect(one(snapshot, 'Microsoft.EventHub/namespaces').properties).toMatchObject({
      disableLocalAuth: true,
      minimumTlsVersion: '1.2',
    });
  });

  it('gives the Function App only settings the code declares, every required one, and no secret in clear', () => {
    const site = one(snapshot, 'Microsoft.Web/sites');
    expect(
      (site.properties as { functionAppConfig: { runtime: unknown } }).functionAppConfig.runtime,
    ).toEqual({
      name: 'node',
      version: '22',
    });
    const settings = appSettingsOf(snapshot);
    expectDeclared(settings);
    // Retraining is off until its assets exist: no AML_ setting at all, rather than a half-set one.
    expect(settings.filter((s) => s.name.startsWith('AML_'))).toEqual([]);
    const teams = settings.find((a) => a.name === 'TEAMS_WEBHOOK_URL');
    expect(teams?.value).toMatch(/^\[format\('@Microsoft\.KeyVault\(SecretUri=/);
  });
});

describe('the Function App with retraining on', () => {
  it('names the workspace and the training cluster Bicep defines, and sets every AML_ setting the app needs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bicep-retrain-'));
    // A parameters file must name its template by a relative path.
    const main = relative(dir, resolve('bicep/main.bicep'));
    writeFileSync(
      join(dir, 'retrain.bicepparam'),
      `${readFileSync('bicep/dev.bicepparam', 'utf8').replace("using 'main.bicep'", `using '${main}'`)}
param amlEnvironmentId = '/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w/environments/train/versions/1'
param amlCodeId = '/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w/codes/train/versions/1'
param retrainMaxUsdPerJob = 300
param harnessPrincipalId = '11111111-1111-1111-1111-111111111111'
`,
    );
    writeFileSync(join(dir, 'bicepconfig.json'), readFileSync('bicep/bicepconfig.json'));
    const result = run(snapshotArgs('retrain', 'overwrite'), dir);
    expect(result.status, result.output).toBe(0);
    const snapshot: Snapshot = loadSnapshot(join(dir, 'retrain.snapshot.json'));
    const settings = appSettingsOf(snapshot);
    expectDeclared(settings);
    const value = (name: string): string | undefined => settings.find((s) => s.name === name)?.value;
    const compute = one(snapshot, 'Microsoft.MachineLearningServices/workspaces/computes');
    expect(value('AML_COMPUTE')).toBe(leaf(compute));
    expect(value('AML_WORKSPACE')).toBe(one(snapshot, 'Microsoft.MachineLearningServices/workspaces').name);
    expect(value('RETRAIN_MAX_USD')).toBe('300');
    // The harness may send to the evaluations hub, and to nothing else.
    const harness = ofType(snapshot, 'Microsoft.Authorization/roleAssignments').filter(
      (a) => a.properties?.principalId === '11111111-1111-1111-1111-111111111111',
    );
    expect(
      harness.map((a) => [a.id.includes('/eventhubs/evaluations'), a.properties?.roleDefinitionId]),
    ).toEqual([[true, expect.stringMatching(/2b629674-e913-4c01-ae53-ef4638d8f975$/)]]);
    for (const [name, setting] of Object.entries(SETTINGS)) {
      if (name.startsWith('AML_') && setting.required === 'to retrain')
        expect(value(name), name).toBeDefined();
    }
  });
});

/** Every setting is one the code declares (or a platform one), and every required one is there. */
function expectDeclared(settings: readonly AppSetting[]): void {
  const names = settings.map((a) => a.name);
  const declared = Object.keys(SETTINGS);
  // Settings of the platform itself, which the code does not read.
  const platform = ['APPLICATIONINSIGHTS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'];
  for (const name of names) {
    if (platform.includes(name)) continue;
    const base = name.split('__')[0] ?? name;
    expect(
      declared.includes(name) || declared.some((d) => d.startsWith(`${base}__`)) || declared.includes(base),
      name,
    ).toBe(true);
  }
  for (const [name, setting] of Object.entries(SETTINGS)) {
    // Flex Consumption sets the runtime in functionAppConfig and refuses FUNCTIONS_WORKER_RUNTIME.
    if (setting.required !== 'yes' || name === 'FUNCTIONS_WORKER_RUNTIME') continue;
    expect(
      names.some((n) => n === name || n.startsWith(`${name}__`)),
      name,
    ).toBe(true);
  }
}
