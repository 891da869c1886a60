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
        SETTINGS.BUDGET_STATE_CONTAINER.default,
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
        SETTINGS.BUDGET_SPEND_TABLE.default,
        SETTINGS.PROMOTIONS_TABLE.default,
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
    const snapshot = snapshotWith(
      'retrain',
      `param amlEnvironmentId = '/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w/environments/train/versions/1'
param amlCodeId = '/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w/codes/train/versions/1'
param retrainMaxUsdPerJob = 300
param harnessPrincipalId = '11111111-1111-1111-1111-111111111111'
`,
    );
    const settings = appSettingsOf(snapshot);
    expectDeclared(settings);
    const value = (name: string): string | undefined => settings.find((s) => s.name === name)?.value;
    const compute = one(snapshot, 'Microsoft.MachineLearningServices/workspaces/computes');
    expect(value('AML_COMPUTE')).toBe(leaf(compute));
    expect(value('AML_WORKSPACE')).toBe(one(snapshot, 'Microsoft.MachineLearningServices/workspaces').name);
    expect(value('RETRAIN_MAX_USD')).toBe('300');
    // The harness's CI principal may send to the evaluations hub, and to nothing else.
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

const OPERATORS = '22222222-2222-2222-2222-222222222222';
const LINK_BASE = 'https://func-chgbk-dev.azurewebsites.net/api/reports/';
// Built-in role definition ids (the same in every tenant).
const BLOB_DATA_CONTRIBUTOR = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe';
const TABLE_DATA_CONTRIBUTOR = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3';
const QUEUE_DATA_CONTRIBUTOR = '974c5e8b-45b9-4653-ba55-5f855dd0fb88';

/** Each of a principal's role assignments as `role id | scope`, the scope's account name elided as st*. */
function assignmentsOf(snapshot: Snapshot, principalId: string): string[] {
  return ofType(snapshot, 'Microsoft.Authorization/roleAssignments')
    .filter((a) => a.properties?.principalId === principalId)
    .map((a) => {
      expect(a.properties?.principalType, a.id).toBe('Group');
      const role = String(a.properties?.roleDefinitionId).split('/').at(-1) ?? '';
      const scope = a.id
        .split('/providers/Microsoft.Authorization/roleAssignments/')[0]
        ?.split('/providers/')[1]
        ?.replace(/storageAccounts\/st[a-z0-9]+/, 'storageAccounts/st*');
      return `${role} | ${scope}`;
    })
    .sort();
}

describe('operator access and the report link', () => {
  it.each(Object.entries(snapshots))(
    'are absent from the %s deployment, whose parameters name neither',
    (_environment, snapshot) => {
      const groups = ofType(snapshot, 'Microsoft.Authorization/roleAssignments').filter(
        (a) => a.properties?.principalType === 'Group',
      );
      expect(groups).toEqual([]);
      expect(appSettingsOf(snapshot).map((s) => s.name)).not.toContain('REPORT_LINK_BASE');
    },
  );

  it('give the operator group what restate, replay-deadletters and sweep-orphans call, on the ledger account only', () => {
    const snapshot = snapshotWith(
      'operators',
      `param operatorGroupId = '${OPERATORS}'\nparam reportLinkBase = '${LINK_BASE}'\n`,
    );
    expect(assignmentsOf(snapshot, OPERATORS)).toEqual(
      [
        // The ledger container (segments, dead letters) and the reports container, which every
        // command creates at start; not the account, which also holds the host's keys and package.
        `${BLOB_DATA_CONTRIBUTOR} | Microsoft.Storage/storageAccounts/st*/blobServices/default/containers/${SETTINGS.LEDGER_CONTAINER.default}`,
        `${BLOB_DATA_CONTRIBUTOR} | Microsoft.Storage/storageAccounts/st*/blobServices/default/containers/${SETTINGS.REPORTS_CONTAINER.default}`,
        `${TABLE_DATA_CONTRIBUTOR} | Microsoft.Storage/storageAccounts/st*`,
        `${QUEUE_DATA_CONTRIBUTOR} | Microsoft.Storage/storageAccounts/st*/queueServices/default/queues/${SETTINGS.RESTATE_QUEUE_NAME.default}`,
      ].sort(),
    );
    // The same account the app's LEDGER_STORAGE_ACCOUNT_NAME names, not Azure ML's.
    const ledgerAccount = appSettingsOf(snapshot).find(
      (s) => s.name === 'LEDGER_STORAGE_ACCOUNT_NAME',
    )?.value;
    for (const assignment of ofType(snapshot, 'Microsoft.Authorization/roleAssignments').filter(
      (a) => a.properties?.principalId === OPERATORS,
    ))
      expect(assignment.id).toContain(`/storageAccounts/${ledgerAccount}/`);
  });

  it('put reportLinkBase into the app settings as REPORT_LINK_BASE, a URL the app accepts', () => {
    const snapshot = snapshotWith('link', `param reportLinkBase = '${LINK_BASE}'\n`);
    const settings = appSettingsOf(snapshot);
    expectDeclared(settings);
    expect(settings.filter((s) => s.name === 'REPORT_LINK_BASE')).toEqual([
      { name: 'REPORT_LINK_BASE', value: LINK_BASE },
    ]);
    expect(SETTINGS.REPORT_LINK_BASE.schema.safeParse(LINK_BASE).success).toBe(true);
    // A link alone grants nobody anything.
    expect(
      ofType(snapshot, 'Microsoft.Authorization/roleAssignments').filter(
        (a) => a.properties?.principalType === 'Group',
      ),
    ).toEqual([]);
  });
});

/** The dev deployment with more parameters, snapshotted as the committed ones are. */
describe('sign-in for the report pages', () => {
  const CLIENT = '33333333-3333-3333-3333-333333333333';
  it.each(Object.entries(snapshots))(
    'is off in the %s deployment, whose parameters name no app registration',
    (_e, snapshot) => {
      expect(ofType(snapshot, 'Microsoft.Web/sites/config')).toEqual([]);
      expect(appSettingsOf(snapshot).map((s) => s.name)).not.toContain('PAGE_SIGN_IN');
    },
  );

  it('puts App Service authentication in front of the app, letting keyed routes through, and turns the page route on', () => {
    const snapshot = snapshotWith('signin', `param pageSignInClientId = '${CLIENT}'\n`);
    const auth = one(snapshot, 'Microsoft.Web/sites/config');
    expect(leaf(auth)).toBe('authsettingsV2');
    const properties = auth.properties as {
      globalValidation: { requireAuthentication: boolean; unauthenticatedClientAction: string };
      identityProviders: {
        azureActiveDirectory: { registration: { clientId: string; clientSecretSettingName: string } };
      };
    };
    // Not required globally: machines call the other routes with function keys, without a sign-in.
    expect(properties.globalValidation).toEqual({
      requireAuthentication: false,
      unauthenticatedClientAction: 'AllowAnonymous',
    });
    const registration = properties.identityProviders.azureActiveDirectory.registration;
    expect(registration.clientId).toBe(CLIENT);
    const settings = appSettingsOf(snapshot);
    expectDeclared(settings);
    const value = (name: string): string | undefined => settings.find((s) => s.name === name)?.value;
    expect(value('PAGE_SIGN_IN')).toBe('entra');
    expect(SETTINGS.PAGE_SIGN_IN.schema.safeParse(value('PAGE_SIGN_IN')).success).toBe(true);
    // The secret the registration names is a setting, and that setting is a Key Vault reference.
    expect(value(registration.clientSecretSettingName)).toMatch(
      /@Microsoft\.KeyVault\(SecretUri=.*page-sign-in-secret/,
    );
  });
});

function snapshotWith(name: string, parameters: string): Snapshot {
  const dir = mkdtempSync(join(tmpdir(), `bicep-${name}-`));
  // A parameters file must name its template by a relative path.
  const main = relative(dir, resolve('bicep/main.bicep'));
  writeFileSync(
    join(dir, `${name}.bicepparam`),
    `${readFileSync('bicep/dev.bicepparam', 'utf8').replace("using 'main.bicep'", `using '${main}'`)}\n${parameters}`,
  );
  writeFileSync(join(dir, 'bicepconfig.json'), readFileSync('bicep/bicepconfig.json'));
  const result = run(snapshotArgs(name, 'overwrite'), dir);
  expect(result.status, result.output).toBe(0);
  return loadSnapshot(join(dir, `${name}.snapshot.json`));
}

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
