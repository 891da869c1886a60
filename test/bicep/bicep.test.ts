import { execFileSync, spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/composition/settings.js';
import { bicepPath } from '../../scripts/bicep.js';

/**
 * The templates compiled and linted by the real Bicep CLI (from NuGet, see scripts/bicep.ts), and
 * the compiled JSON held to what the code expects. No Azure subscription is needed.
 */
let bicep: string;

interface Resource {
  readonly type: string;
  readonly name: string;
  readonly properties?: Record<string, unknown>;
  readonly sku?: Record<string, unknown>;
}
interface Template {
  readonly resources: Resource[] | Record<string, Resource>;
  readonly variables?: Record<string, unknown>;
}

function run(args: readonly string[]): { status: number | null; output: string } {
  const result = spawnSync(bicep, args, { cwd: 'bicep', encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function compiled(): Template {
  return JSON.parse(
    execFileSync(bicep, ['build', 'main.bicep', '--stdout'], { cwd: 'bicep', encoding: 'utf8' }),
  ) as Template;
}

/** The template of a module, by its deployment name. */
function moduleTemplate(template: Template, name: string): Template {
  const resources = Array.isArray(template.resources)
    ? template.resources
    : Object.values(template.resources);
  const deployment = resources.find((r) => r.type === 'Microsoft.Resources/deployments' && r.name === name);
  const inner = (deployment?.properties as { template?: Template } | undefined)?.template;
  if (inner === undefined) throw new Error(`no module ${name}`);
  return inner;
}

function resourcesOf(template: Template, type: string): Resource[] {
  const resources = Array.isArray(template.resources)
    ? template.resources
    : Object.values(template.resources);
  return resources.filter((r) => r.type === type);
}

beforeAll(() => {
  bicep = bicepPath();
}, 300_000);

describe('the Bicep templates', () => {
  it('compile', () => {
    const result = run(['build', 'main.bicep', '--stdout']);
    expect(result.status, result.output).toBe(0);
  });

  it('pass the linter with no warning at all (security and hygiene rules are errors in bicepconfig.json)', () => {
    for (const file of [
      'main.bicep',
      'modules/eventhubs.bicep',
      'modules/storage.bicep',
      'modules/keyvault.bicep',
      'modules/monitoring.bicep',
      'modules/functionapp.bicep',
    ]) {
      const result = run(['lint', file]);
      expect(result.status, result.output).toBe(0);
      expect(result.output.trim(), file).toBe('');
    }
  });

  it('compile with the dev and the prod parameters', () => {
    for (const file of ['dev.bicepparam', 'prod.bicepparam']) {
      const result = run(['build-params', file, '--stdout']);
      expect(result.status, result.output).toBe(0);
    }
  });

  it('define the usage and evaluations hubs with the consumer groups the Functions read, SAS off', () => {
    const eh = moduleTemplate(compiled(), 'eventhubs');
    const [namespace] = resourcesOf(eh, 'Microsoft.EventHub/namespaces');
    expect(namespace?.properties).toMatchObject({ disableLocalAuth: true, minimumTlsVersion: '1.2' });
    const hubs = resourcesOf(eh, 'Microsoft.EventHub/namespaces/eventhubs').map((r) => r.name);
    expect(hubs.join(' ')).toContain('usage');
    expect(hubs.join(' ')).toContain('evaluations');
    const groups = resourcesOf(eh, 'Microsoft.EventHub/namespaces/eventhubs/consumergroups').map(
      (r) => r.name,
    );
    // The names local.settings.example.json gives USAGE_CONSUMER_GROUP and EVALUATIONS_CONSUMER_GROUP.
    expect(groups.join(' ')).toContain("'chargeback'");
    expect(groups.join(' ')).toContain("'quality'");
  });

  it('define the storage the app uses by default, with shared keys off', () => {
    const st = moduleTemplate(compiled(), 'storage');
    const [account] = resourcesOf(st, 'Microsoft.Storage/storageAccounts');
    expect(account?.properties).toMatchObject({
      allowSharedKeyAccess: false,
      allowBlobPublicAccess: false,
      minimumTlsVersion: 'TLS1_2',
    });
    expect(st.variables?.containers).toEqual([
      SETTINGS.LEDGER_CONTAINER.default,
      SETTINGS.REPORTS_CONTAINER.default,
    ]);
    expect([...((st.variables?.tables as string[] | undefined) ?? [])].sort()).toEqual(
      [
        SETTINGS.LEDGER_TABLE.default,
        SETTINGS.ALERTS_TABLE.default,
        SETTINGS.QUALITY_TABLE.default,
        SETTINGS.RETRAINING_TABLE.default,
      ].sort(),
    );
    expect(st.variables?.dayQueue).toBe(SETTINGS.RESTATE_QUEUE_NAME.default);
    const [blobs] = resourcesOf(st, 'Microsoft.Storage/storageAccounts/blobServices');
    expect(blobs?.properties).toMatchObject({
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true },
    });
  });

  it('define a Key Vault in RBAC mode with purge protection, and Application Insights without local auth', () => {
    const template = compiled();
    const [vault] = resourcesOf(moduleTemplate(template, 'keyvault'), 'Microsoft.KeyVault/vaults');
    expect(vault?.properties).toMatchObject({ enableRbacAuthorization: true, enablePurgeProtection: true });
    const [insights] = resourcesOf(moduleTemplate(template, 'monitoring'), 'Microsoft.Insights/components');
    expect(insights?.properties).toMatchObject({ DisableLocalAuth: true });
  });

  it('give the Function App only settings the code declares, every required one, and no secret in clear', () => {
    const [site] = resourcesOf(moduleTemplate(compiled(), 'functionapp'), 'Microsoft.Web/sites');
    const config = site?.properties as {
      siteConfig: { appSettings: { name: string; value: string }[] };
      functionAppConfig: { runtime: { name: string; version: string } };
    };
    expect(config.functionAppConfig.runtime).toEqual({ name: 'node', version: '22' });
    const names = config.siteConfig.appSettings.map((a) => a.name);
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
    const teams = config.siteConfig.appSettings.find((a) => a.name === 'TEAMS_WEBHOOK_URL');
    expect(teams?.value).toMatch(/^\[format\('@Microsoft\.KeyVault\(SecretUri=/);
  });
});
