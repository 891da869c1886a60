import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { ICronJob } from 'kubernetes-models/batch/v1';
import { describe, expect, it } from 'vitest';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { InvocationContext } from '../../dev/functions-runtime.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { SETTINGS } from '../../src/composition/settings.js';
import { loadPriceCard } from '../../src/domain/prices.js';
import { parseRetrainingConfig } from '../../src/domain/retrain/config.js';
import { SidecarMetrics } from '../../src/sidecar/metrics.js';
import { at, DAY_AFTER, TEST_PRICES, usage } from '../helpers/events.js';
import { deployments, nameOf, ofKind, podSpecOf, sidecarOf, envValue, vllmOf } from '../deploy/manifests.js';
import { appSettingsOf, leaf, ofType, one, snapshots, type Resource, type Snapshot } from './snapshot.js';

/**
 * The committed snapshots of both environments held to the code and the manifests they deploy:
 * roles against an allow-list, the AKS pools against what vllm-deploy/ selects and tolerates, the
 * workload identities against its service accounts, the training cluster against the retraining
 * settings, private networking, and the alerts against what the code logs and exports.
 */
const ENVIRONMENTS: [string, Snapshot][] = Object.entries(snapshots);
const prices = loadPriceCard(JSON.parse(readFileSync('prices/azure-a100.json', 'utf8')));
const retraining = parseRetrainingConfig(JSON.parse(readFileSync('rules/retraining.json', 'utf8')));

// Built-in role definition ids (the same in every tenant).
const ROLES: Record<string, string> = {
  '2b629674-e913-4c01-ae53-ef4638d8f975': 'Azure Event Hubs Data Sender',
  'a638d3c7-ab3a-418d-83e6-5f17a39d4fde': 'Azure Event Hubs Data Receiver',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1': 'Storage Blob Data Reader',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
  'f6c7c914-8db3-469d-8ca1-694a8f32e121': 'AzureML Data Scientist',
  'b0d8363b-8ddd-447d-831f-62ca05bff136': 'Monitoring Data Reader',
  '7f951dda-4ed3-4680-a7ca-43fe172d538d': 'AcrPull',
  '4d97b98b-1d4f-4787-a291-c67834d212e7': 'Network Contributor',
};
const BROAD_ROLES = [
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635', // Owner
  'b24988ac-6180-42a0-ab88-20f7382dd24c', // Contributor
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9', // User Access Administrator
  'f58310d9-a9f6-439a-9e8d-f62e7b41a168', // Role Based Access Control Administrator
];

// Who may do what, where: principal | role | the scope's resource type / name (the environment's
// generated part of a name is elided as *).
const ALLOWED = [
  'sidecar identity | Azure Event Hubs Data Sender | Microsoft.EventHub/namespaces/eventhubs usage',
  'sidecar identity | Storage Blob Data Reader | Microsoft.Storage/storageAccounts/blobServices/containers budget-state',
  'Function App | Azure Event Hubs Data Receiver | Microsoft.EventHub/namespaces/eventhubs usage',
  'Function App | Azure Event Hubs Data Receiver | Microsoft.EventHub/namespaces/eventhubs evaluations',
  'Function App | Storage Blob Data Owner | Microsoft.Storage/storageAccounts st*',
  'Function App | Storage Queue Data Contributor | Microsoft.Storage/storageAccounts st*',
  'Function App | Storage Table Data Contributor | Microsoft.Storage/storageAccounts st*',
  'Function App | Key Vault Secrets User | Microsoft.KeyVault/vaults kv-*',
  'Function App | Monitoring Metrics Publisher | Microsoft.Insights/components appi-*',
  'Function App | AzureML Data Scientist | Microsoft.MachineLearningServices/workspaces mlw-*',
  'harness identity | Azure Event Hubs Data Sender | Microsoft.EventHub/namespaces/eventhubs evaluations',
  'KEDA identity | Monitoring Data Reader | Microsoft.Monitor/accounts amw-*',
  'AKS kubelet | AcrPull | Microsoft.ContainerRegistry/registries cr*',
  'AKS control plane | Network Contributor | Microsoft.Network/virtualNetworks/subnets aks-nodes',
].sort();

/** The scope of a role assignment: the resource id inside `[extensionResourceId('<id>', ...`. */
function scopeOf(assignment: Resource): { type: string; name: string } {
  const id = /^\[extensionResourceId\('([^']+)'/.exec(assignment.id)?.[1];
  if (id === undefined) throw new Error(`role assignment without a resource scope: ${assignment.id}`);
  const parts = id.split('/providers/')[1]?.split('/') ?? [];
  const provider = parts[0] ?? '';
  const types: string[] = [];
  const names: string[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    types.push(parts[i] ?? '');
    names.push(parts[i + 1] ?? '');
  }
  return { type: [provider, ...types].join('/'), name: names.at(-1) ?? '' };
}

function principalOf(assignment: Resource): string {
  const principal = String(assignment.properties?.principalId);
  if (principal.includes('/userAssignedIdentities/') && principal.includes('-sidecar'))
    return 'sidecar identity';
  if (principal.includes('/userAssignedIdentities/') && principal.includes('-harness'))
    return 'harness identity';
  if (principal.includes('/userAssignedIdentities/') && principal.includes('-keda')) return 'KEDA identity';
  if (principal.includes('/Microsoft.Web/sites/')) return 'Function App';
  if (principal.includes('kubeletidentity')) return 'AKS kubelet';
  if (principal.includes('/managedClusters/') && principal.includes('.identity.principalId'))
    return 'AKS control plane';
  return `unknown principal ${principal}`;
}

function elide(name: string): string {
  for (const prefix of ['appi-', 'amw-', 'mlw-', 'kv-', 'st', 'cr']) {
    if (name.startsWith(prefix) && /-?(dev|prod)/.test(name)) return `${prefix}*`;
  }
  return name;
}

// environment() of the public cloud, for the zone names the snapshot leaves as expressions.
const SUFFIXES: Record<string, string> = { storage: 'core.windows.net', acrLoginServer: '.azurecr.io' };
function evaluated(text: string): string {
  return text
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/format\('([^']*)', environment\(\)\.suffixes\.(\w+)\)/g, (_, template: string, key: string) =>
      template.replace('{0}', SUFFIXES[key] ?? `?${key}`),
    )
    .replace(/^'(.*)'$/, '$1');
}

/** The zone a zone id names, evaluated: a plain resource id, or a resourceId(...) expression. */
function zoneNameOf(id: string): string {
  const expression = /'Microsoft\.Network\/privateDnsZones', (.*)\)\]$/.exec(id)?.[1];
  return evaluated(expression ?? id.split('/privateDnsZones/')[1] ?? '');
}

describe.each(ENVIRONMENTS)('the %s snapshot', (_environment, snapshot) => {
  it('assigns exactly the allow-listed roles, and no broad role to anyone', () => {
    const assignments = ofType(snapshot, 'Microsoft.Authorization/roleAssignments');
    const listed = assignments.map((a) => {
      const definition = String(a.properties?.roleDefinitionId).split('/').at(-1) ?? '';
      expect(BROAD_ROLES, `${principalOf(a)} must not hold a broad role`).not.toContain(definition);
      const scope = scopeOf(a);
      return `${principalOf(a)} | ${ROLES[definition] ?? `unlisted role ${definition}`} | ${scope.type} ${elide(scope.name)}`;
    });
    expect(listed.sort()).toEqual(ALLOWED);
  });

  it("federates the sidecar's identity with the service account and namespace its pods run as", () => {
    // The vLLM pods' account (the harness's CronJobs run as an account of their own).
    const served = podSpecOf(deployments[0] as (typeof deployments)[number]).serviceAccountName;
    const account = ofKind<{ metadata: { name: string; namespace: string } }>('ServiceAccount').find(
      (a) => a.metadata.name === served,
    );
    expect(account).toBeDefined();
    for (const d of deployments) {
      expect(podSpecOf(d).serviceAccountName, nameOf(d)).toBe(account?.metadata.name);
      expect(d.metadata?.namespace, nameOf(d)).toBe(account?.metadata.namespace);
    }
    const credentials = ofType(
      snapshot,
      'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials',
    );
    const sidecar = credentials.find((c) => c.name.includes('-sidecar/'));
    expect(sidecar?.properties).toMatchObject({
      subject: `system:serviceaccount:${account?.metadata.namespace}:${account?.metadata.name}`,
      audiences: ['api://AzureADTokenExchange'],
    });
    expect(String(sidecar?.properties?.issuer)).toMatch(/managedClusters\/.*oidcIssuerProfile\.issuerURL/);
    // KEDA's add-on operator reads Prometheus with its own identity (keda.yaml: provider azure-workload).
    const keda = credentials.find((c) => c.name.includes('-keda/'));
    expect(keda?.properties?.subject).toBe('system:serviceaccount:kube-system:keda-operator');
    const [auth] = ofKind<{ spec: { podIdentity: { provider: string } } }>('TriggerAuthentication');
    expect(auth?.spec.podIdentity.provider).toBe('azure-workload');
  });

  it("federates the harness's identity with the CronJobs' service account, and gives the CronJobs its client id as an output", () => {
    const jobs = ofKind<ICronJob>('CronJob');
    expect(jobs.length).toBeGreaterThan(0);
    const accounts = new Set(
      jobs.map(
        (j) => `${j.metadata?.namespace}:${j.spec?.jobTemplate.spec?.template.spec?.serviceAccountName}`,
      ),
    );
    expect(accounts.size).toBe(1);
    const [account = ''] = accounts;
    // Not the vLLM pods' account: the sidecar's identity may not send evaluations, nor the harness's usage.
    for (const d of deployments)
      expect(`${d.metadata?.namespace}:${podSpecOf(d).serviceAccountName}`).not.toBe(account);
    const identities = ofType(snapshot, 'Microsoft.ManagedIdentity/userAssignedIdentities').filter((i) =>
      i.name.endsWith('-harness'),
    );
    expect(identities).toHaveLength(1);
    const [identity] = identities;
    const credentials = ofType(
      snapshot,
      'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials',
    ).filter((c) => c.name.startsWith(`${identity?.name}/`));
    expect(credentials.map((c) => c.properties)).toEqual([
      {
        issuer: expect.stringMatching(/managedClusters\/.*oidcIssuerProfile\.issuerURL/),
        subject: `system:serviceaccount:${account}`,
        audiences: ['api://AzureADTokenExchange'],
      },
    ]);
    // The output the CronJobs' service account annotation is filled in from.
    expect(snapshot.outputs?.['harnessClientId']).toBe(
      `[reference('${identity?.id}', '2024-11-30').clientId]`,
    );
    expect(readFileSync('vllm-deploy/evaluation-cronjob.yaml', 'utf8')).toMatch(/\bharnessClientId\b/);
  });

  it('runs AKS with the OIDC issuer, workload identity, KEDA, managed Prometheus and Entra-only access', () => {
    const cluster = one(snapshot, 'Microsoft.ContainerService/managedClusters');
    expect(cluster.properties).toMatchObject({
      disableLocalAccounts: true,
      aadProfile: { managed: true, enableAzureRBAC: true },
      oidcIssuerProfile: { enabled: true },
      securityProfile: { workloadIdentity: { enabled: true } },
      workloadAutoScalerProfile: { keda: { enabled: true } },
      azureMonitorProfile: { metrics: { enabled: true } },
    });
    const account = one(snapshot, 'Microsoft.Monitor/accounts');
    const rule = one(snapshot, 'Microsoft.Insights/dataCollectionRules');
    const properties = rule.properties as {
      dataSources: { prometheusForwarder: { streams: string[] }[] };
      destinations: { monitoringAccounts: { accountResourceId: string }[] };
    };
    expect(properties.dataSources.prometheusForwarder[0]?.streams).toEqual(['Microsoft-PrometheusMetrics']);
    expect(properties.destinations.monitoringAccounts[0]?.accountResourceId).toBe(account.id);
    const association = one(snapshot, 'Microsoft.Insights/dataCollectionRuleAssociations');
    expect(association.properties?.dataCollectionRuleId).toBe(rule.id);
    expect(association.id).toContain(cluster.id);
  });

  it('has an A100 pool for every vLLM Deployment: the VM size it selects, taints it tolerates, labels it asks for', () => {
    const cluster = one(snapshot, 'Microsoft.ContainerService/managedClusters');
    const pools = (cluster.properties as { agentPoolProfiles: Pool[] }).agentPoolProfiles;
    const system = pools.filter((p) => p.mode === 'System');
    expect(system.length).toBe(1);
    // Application pods never land on the system pool: they do not tolerate its taint.
    expect(system[0]?.nodeTaints).toContain('CriticalAddonsOnly=true:NoSchedule');
    for (const d of deployments) {
      const selector = podSpecOf(d).nodeSelector ?? {};
      const vmSize = selector['node.kubernetes.io/instance-type'];
      const pool = pools.find((p) => p.vmSize === vmSize);
      expect(pool, `${nameOf(d)} selects ${vmSize}: no pool has it`).toBeDefined();
      if (pool === undefined) continue;
      expect(pool.mode).toBe('User');
      expect(pool.enableAutoScaling, pool.name).toBe(true);
      expect(envValue(sidecarOf(d), 'GPU_SKU'), nameOf(d)).toBe(pool.vmSize);
      expect(prices.periods(pool.vmSize), `${pool.vmSize} is priced`).toBeDefined();
      // Every taint of the pool is tolerated by the pods meant for it...
      for (const taint of pool.nodeTaints ?? []) {
        expect(tolerates(d, taint), `${nameOf(d)} tolerates ${taint}`).toBe(true);
      }
      // ...and every label the pods select is one AKS sets or one the pool carries.
      for (const [key, value] of Object.entries(selector)) {
        const label = AKS_LABELS[key];
        if (label !== undefined) {
          expect(label(pool), `${key}=${value}`).toBe(value);
        } else {
          expect(pool.nodeLabels?.[key], `${nameOf(d)} selects ${key}=${value}`).toBe(value);
        }
      }
      // GPU pools are tainted, so nothing else schedules there.
      expect(pool.nodeTaints?.length ?? 0, pool.name).toBeGreaterThan(0);
    }
    for (const pool of pools.filter((p) => p.mode === 'User')) {
      expect(
        deployments.some(
          (d) => podSpecOf(d).nodeSelector?.['node.kubernetes.io/instance-type'] === pool.vmSize,
        ),
        `pool ${pool.name} (${pool.vmSize}) serves no Deployment`,
      ).toBe(true);
    }
  });

  it("uses a training cluster that is the retraining settings' SKU, scales to zero and fits the largest job", () => {
    const [compute] = ofType(snapshot, 'Microsoft.MachineLearningServices/workspaces/computes');
    const inner = (compute?.properties as { computeType: string; properties: ComputeProperties }).properties;
    expect(compute?.properties?.computeType).toBe('AmlCompute');
    expect(inner.vmSize).toBe(retraining.computeSku);
    expect(prices.periods(inner.vmSize)).toBeDefined();
    expect(inner.scaleSettings.minNodeCount).toBe(0);
    expect(inner.scaleSettings.nodeIdleTimeBeforeScaleDown).toMatch(/^PT\d+M$/);
    const largest = Math.max(...Object.values(retraining.models).map((m) => m.instanceCount));
    expect(inner.scaleSettings.maxNodeCount).toBeGreaterThanOrEqual(largest);
    const workspace = one(snapshot, 'Microsoft.MachineLearningServices/workspaces');
    for (const field of ['storageAccount', 'keyVault', 'applicationInsights', 'containerRegistry']) {
      expect(String(workspace.properties?.[field]), field).toMatch(/^\/subscriptions\//);
    }
  });

  it('defines the alerts on what the code really logs and exports', async () => {
    const rules = ofType(snapshot, 'Microsoft.Insights/scheduledQueryRules').map((r) => leaf(r));
    expect(rules.map((r) => r.replace(/^chargeback-(dev|prod)-/, '')).sort()).toEqual(
      ['dead-letters-per-day', 'failed-function-runs', 'ingest-lag'].sort(),
    );
    // The fields the log queries read are in the line ingestUsage really logs.
    const line = await ingestLogLine();
    for (const rule of ofType(snapshot, 'Microsoft.Insights/scheduledQueryRules')) {
      const query =
        (rule.properties as { criteria: { allOf: { query: string }[] } }).criteria.allOf[0]?.query ?? '';
      if (!query.includes('ingestUsage')) continue;
      expect(query).toContain(`message startswith '{"function":"ingestUsage"'`);
      expect(line.startsWith('{"function":"ingestUsage"')).toBe(true);
      const fields = [...query.matchAll(/line\.(\w+)/g)].map((m) => m[1] ?? '');
      expect(fields.length).toBeGreaterThan(0);
      for (const field of fields) expect(Object.keys(JSON.parse(line) as object), field).toContain(field);
    }
    // The Prometheus rules read only metrics the sidecar exports.
    const exported = (
      await new SidecarMetrics(mkdtempSync(join(tmpdir(), 'spool-'))).registry.getMetricsAsJSON()
    ).map((m) => m.name);
    const group = one(snapshot, 'Microsoft.AlertsManagement/prometheusRuleGroups');
    const expressions = (group.properties as { rules: { alert: string; expression: string }[] }).rules;
    expect(expressions.map((r) => r.alert).sort()).toEqual([
      'ChargebackSidecarDroppedEvents',
      'ChargebackSidecarRejectedEvents',
      'ChargebackSidecarSpooling',
    ]);
    for (const { expression } of expressions) {
      for (const [metric] of expression.matchAll(/chargeback_sidecar_\w+/g)) {
        expect(exported, expression).toContain(metric);
      }
    }
    const stalled = one(snapshot, 'Microsoft.Insights/metricAlerts');
    expect(JSON.stringify(stalled.properties)).toContain('"values":["usage"]');
  });

  it('sizes the usage hub from the parameters and names hubs and groups as the app settings do', () => {
    const hubs = ofType(snapshot, 'Microsoft.EventHub/namespaces/eventhubs').map(leaf).sort();
    expect(hubs).toEqual(['evaluations', 'usage']);
    const settings = Object.fromEntries(appSettingsOf(snapshot).map((s) => [s.name, s.value]));
    const groups = ofType(snapshot, 'Microsoft.EventHub/namespaces/eventhubs/consumergroups').map(
      (g) => g.name,
    );
    expect(groups).toContain(
      `${one(snapshot, 'Microsoft.EventHub/namespaces').name}/usage/${settings.USAGE_CONSUMER_GROUP}`,
    );
    expect(groups).toContain(
      `${one(snapshot, 'Microsoft.EventHub/namespaces').name}/evaluations/${settings.EVALUATIONS_CONSUMER_GROUP}`,
    );
    expect(settings.USAGE_EVENTHUB_NAME).toBe('usage');
    expect(settings.EVALUATIONS_EVENTHUB_NAME).toBe('evaluations');
    expect(settings.RESTATE_QUEUE_NAME).toBe(SETTINGS.RESTATE_QUEUE_NAME.default);
  });
});

describe('private networking', () => {
  const PUBLIC_TYPES = [
    'Microsoft.Storage/storageAccounts',
    'Microsoft.EventHub/namespaces',
    'Microsoft.KeyVault/vaults',
    'Microsoft.MachineLearningServices/workspaces',
    'Microsoft.ContainerRegistry/registries',
  ];
  const ZONES: Record<string, string[]> = {
    blob: ['privatelink.blob.core.windows.net'],
    table: ['privatelink.table.core.windows.net'],
    queue: ['privatelink.queue.core.windows.net'],
    file: ['privatelink.file.core.windows.net'],
    namespace: ['privatelink.servicebus.windows.net'],
    vault: ['privatelink.vaultcore.azure.net'],
    amlworkspace: ['privatelink.api.azureml.ms', 'privatelink.notebooks.azure.net'],
    registry: ['privatelink.azurecr.io'],
  };
  // What each data service needs an endpoint for: the ledger account's blob, table and queue,
  // the ML workspace's own storage (blob and file), and one endpoint for each other service.
  const NEEDED: Record<string, string[]> = {
    'Microsoft.EventHub/namespaces': ['namespace'],
    'Microsoft.KeyVault/vaults': ['vault'],
    'Microsoft.MachineLearningServices/workspaces': ['amlworkspace'],
    'Microsoft.ContainerRegistry/registries': ['registry'],
  };

  it('is on in prod: public access off everywhere, an endpoint per service, each in its DNS zone', () => {
    const prod = snapshots.prod;
    for (const type of PUBLIC_TYPES) {
      for (const resource of ofType(prod, type)) {
        expect(resource.properties?.publicNetworkAccess, resource.name).toBe('Disabled');
      }
    }
    const zones = new Set(ofType(prod, 'Microsoft.Network/privateDnsZones').map((z) => evaluated(z.name)));
    const links = ofType(prod, 'Microsoft.Network/privateDnsZones/virtualNetworkLinks');
    expect(links.length).toBe(zones.size);
    const endpoints = ofType(prod, 'Microsoft.Network/privateEndpoints');
    const groups = ofType(prod, 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups');
    const covered: string[] = [];
    for (const endpoint of endpoints) {
      const connection = (
        endpoint.properties as {
          privateLinkServiceConnections: {
            properties: { privateLinkServiceId: string; groupIds: string[] };
          }[];
        }
      ).privateLinkServiceConnections[0]?.properties;
      const group = connection?.groupIds[0] ?? '';
      covered.push(`${connection?.privateLinkServiceId ?? ''} ${group}`);
      const zoneGroup = groups.find((g) => g.name.startsWith(`${endpoint.name}/`));
      const zoneNames = (
        (zoneGroup?.properties as { privateDnsZoneConfigs?: { properties: { privateDnsZoneId: string } }[] })
          .privateDnsZoneConfigs ?? []
      ).map((c) => zoneNameOf(c.properties.privateDnsZoneId));
      expect(zoneNames, endpoint.name).toEqual(ZONES[group]);
      for (const zone of zoneNames) expect(zones.has(zone), zone).toBe(true);
    }
    for (const [type, needed] of Object.entries(NEEDED)) {
      for (const resource of ofType(prod, type)) {
        for (const group of needed)
          expect(covered, `${resource.name} ${group}`).toContain(`${resource.id} ${group}`);
      }
    }
    const accounts = ofType(prod, 'Microsoft.Storage/storageAccounts');
    const ledger = accounts.find((a) => a.name.startsWith('stchgbk'));
    const ml = accounts.find((a) => a.name.startsWith('stml'));
    for (const group of ['blob', 'table', 'queue']) expect(covered).toContain(`${ledger?.id} ${group}`);
    for (const group of ['blob', 'file']) expect(covered).toContain(`${ml?.id} ${group}`);
    // The Function App and the training cluster reach them from inside the VNet.
    const site = one(prod, 'Microsoft.Web/sites');
    expect(String(site.properties?.virtualNetworkSubnetId)).toMatch(/\/subnets\/functions$/);
  });

  it('is off in dev: no endpoint, public access on', () => {
    expect(ofType(snapshots.dev, 'Microsoft.Network/privateEndpoints')).toEqual([]);
    for (const type of PUBLIC_TYPES) {
      for (const resource of ofType(snapshots.dev, type)) {
        expect(resource.properties?.publicNetworkAccess, resource.name).toBe('Enabled');
      }
    }
  });
});

describe('the prod pools against the KEDA replica bounds', () => {
  it('has a node for every replica KEDA may ask for, and keeps the minimum replicas on nodes it pays for anyway', () => {
    const cluster = one(snapshots.prod, 'Microsoft.ContainerService/managedClusters');
    const pools = (cluster.properties as { agentPoolProfiles: Pool[] }).agentPoolProfiles;
    const scaled = ofKind<{
      spec: { scaleTargetRef: { name: string }; minReplicaCount: number; maxReplicaCount: number };
    }>('ScaledObject');
    expect(scaled.length).toBe(deployments.length);
    for (const object of scaled) {
      const d = deployments.find((x) => nameOf(x) === object.spec.scaleTargetRef.name) as IDeployment;
      const vmSize = podSpecOf(d).nodeSelector?.['node.kubernetes.io/instance-type'] ?? '';
      const pool = pools.find((p) => p.vmSize === vmSize);
      const gpusPerPod = Number(vllmOf(d).resources?.limits?.['nvidia.com/gpu']);
      const gpusPerVm = prices.periods(vmSize)?.[0]?.gpusPerVm ?? 0;
      const podsPerNode = Math.floor(gpusPerVm / gpusPerPod);
      expect(podsPerNode, vmSize).toBeGreaterThanOrEqual(1);
      expect((pool?.maxCount ?? 0) * podsPerNode, `${nameOf(d)} max`).toBeGreaterThanOrEqual(
        object.spec.maxReplicaCount,
      );
      expect((pool?.minCount ?? 0) * podsPerNode, `${nameOf(d)} min`).toBeGreaterThanOrEqual(
        object.spec.minReplicaCount,
      );
    }
  });
});

interface Pool {
  name: string;
  mode: string;
  vmSize: string;
  enableAutoScaling?: boolean;
  minCount?: number;
  maxCount?: number;
  nodeTaints?: string[];
  nodeLabels?: Record<string, string>;
}

interface ComputeProperties {
  vmSize: string;
  scaleSettings: { minNodeCount: number; maxNodeCount: number; nodeIdleTimeBeforeScaleDown: string };
}

// Labels AKS puts on every node of a pool by itself.
const AKS_LABELS: Record<string, (pool: Pool) => string> = {
  'node.kubernetes.io/instance-type': (pool) => pool.vmSize,
  'kubernetes.azure.com/agentpool': (pool) => pool.name,
  // GPU VM sizes (the N series) are labelled as NVIDIA accelerators.
  'kubernetes.azure.com/accelerator': (pool) => (/^Standard_N/.test(pool.vmSize) ? 'nvidia' : ''),
};

function tolerates(d: IDeployment, taint: string): boolean {
  const match = /^([^=:]+)(?:=([^:]*))?:(\w+)$/.exec(taint);
  if (match === null) throw new Error(`not a taint: ${taint}`);
  const [, key, value, effect] = match;
  return (podSpecOf(d).tolerations ?? []).some(
    (t) =>
      (t.effect === undefined || t.effect === effect) &&
      ((t.operator === 'Exists' && (t.key === undefined || t.key === key)) ||
        ((t.operator ?? 'Equal') === 'Equal' && t.key === key && (t.value ?? '') === (value ?? ''))),
  );
}

/** The JSON line ingestUsage logs for a batch, as the alert queries see it in Application Insights. */
async function ingestLogLine(): Promise<string> {
  const logged: string[] = [];
  const context = new InvocationContext({
    logHandler: (_level, ...args) => logged.push(args.map(String).join(' ')),
    triggerMetadata: {
      partitionContext: { partitionId: '0' },
      sequenceNumberArray: [1, 2],
      enqueuedTimeUtcArray: [at(10), at(20)],
    },
  });
  const handler = makeIngestUsage(() =>
    Promise.resolve({
      ledger: new MemoryLedger(),
      prices: TEST_PRICES,
      now: () => new Date(`${DAY_AFTER}T00:00:00Z`),
      retryDeadlineMs: 0,
    }),
  );
  await handler([usage(), 'not json'], context);
  const line = logged.find((l) => l.startsWith('{"function":"ingestUsage"'));
  if (line === undefined) throw new Error('ingestUsage logged no JSON line');
  return line;
}
