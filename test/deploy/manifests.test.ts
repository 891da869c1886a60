import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  ScaledObject,
  TriggerAuthentication,
  type IScaledObject,
} from '@kubernetes-models/keda/keda.sh/v1alpha1';
import {
  PodMonitor,
  type IPodMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  Namespace,
  Service,
  ServiceAccount,
  type IContainer,
  type IPodSpec,
  type IProbe,
  type IService,
  type IServiceAccount,
} from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { main } from '../../src/cli/main.js';
import { loadPriceCard } from '../../src/domain/prices.js';
import type { Sender } from '../../src/sidecar/pipe.js';
import { loadSidecarSettings, SIDECAR_ENV, type SidecarSettings } from '../../src/sidecar/settings.js';
import { startSidecar } from '../../src/sidecar/sidecar.js';

// ---------------------------------------------------------------------------------------------
// Loading: every YAML file of vllm-deploy/, every document in it.

const DIR = 'vllm-deploy';
const FILES = readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

const loaded: { file: string; doc: K8sObject }[] = FILES.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: d.toJS() as K8sObject };
  }),
);
const objects = loaded.filter((o) => o.doc.kind !== 'Kustomization');
const ofKind = <T>(kind: string): T[] =>
  objects.filter((o) => o.doc.kind === kind).map((o) => o.doc as unknown as T);
const nameOf = (o: { metadata?: { name?: string } }): string => o.metadata?.name ?? '';

// ---------------------------------------------------------------------------------------------
// Schemas. kubernetes-models 4.5.1 (the Kubernetes OpenAPI schemas, ~1.32; the last release that
// runs on Node 20), @kubernetes-models/keda 0.4.2 (KEDA 2.10.1's CRDs) and
// @kubernetes-models/prometheus-operator 4.4.4 (prometheus-operator 0.65.1's CRDs) ship ajv
// validators compiled from those schemas, offline. Azure Managed Prometheus's PodMonitor
// (azmonitoring.coreos.com/v1) is the prometheus-operator CRD under another group, so it is checked
// against that schema.
//
// The Kubernetes schemas do not forbid unknown fields, but `kubectl apply` rejects them (strict
// field validation), and a misspelt field (`readinesProbe`) would otherwise pass silently. So the
// validator runs on a proxy that records which fields it reads: it reads every field its schema
// declares and every entry of a map (labels, resources, KEDA trigger metadata), so a field it never
// read is one the schema does not know.

interface ValidatingModel {
  prototype: { validate: (this: unknown) => void };
}
const MODELS: Record<string, { model: ValidatingModel; apiVersion?: string }> = {
  'v1/Namespace': { model: Namespace },
  'v1/ServiceAccount': { model: ServiceAccount },
  'v1/Service': { model: Service },
  'apps/v1/Deployment': { model: Deployment },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy },
  'keda.sh/v1alpha1/ScaledObject': { model: ScaledObject },
  'keda.sh/v1alpha1/TriggerAuthentication': { model: TriggerAuthentication },
  'azmonitoring.coreos.com/v1/PodMonitor': { model: PodMonitor, apiVersion: 'monitoring.coreos.com/v1' },
};

/** Schema errors and fields the schema does not know, as JSON pointers; [] when the object is valid. */
function schemaProblems(doc: K8sObject): string[] {
  const entry = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (entry === undefined) return [`no schema for ${doc.apiVersion} ${doc.kind}`];
  const data = structuredClone({ ...doc, apiVersion: entry.apiVersion ?? doc.apiVersion });
  const reads = new Map<object, Set<string>>();
  const proxies = new WeakMap<object, object>();
  const watch = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const known = proxies.get(value);
    if (known !== undefined) return known;
    const read = new Set<string>();
    reads.set(value, read);
    const proxy = new Proxy(value, {
      get(target, key, receiver): unknown {
        if (typeof key === 'string') read.add(key);
        return watch(Reflect.get(target, key, receiver));
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  try {
    Reflect.apply(entry.model.prototype.validate, watch(data), []);
  } catch (error) {
    return [(error as Error).message];
  }
  const unknown: string[] = [];
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        walk(item, `${path}/${i}`);
      });
    } else if (value !== null && typeof value === 'object') {
      const read = reads.get(value) ?? new Set<string>();
      for (const [key, child] of Object.entries(value)) {
        if (read.has(key)) walk(child, `${path}/${key}`);
        else unknown.push(`${path}/${key}: not in the schema`);
      }
    }
  };
  walk(data, '');
  return unknown;
}

// ---------------------------------------------------------------------------------------------
// The two Deployments, their containers, and the sidecar's settings as the code reads them.

const deployments = ofKind<IDeployment>('Deployment');
const podSpecOf = (d: IDeployment): IPodSpec => {
  const spec = d.spec?.template.spec;
  if (spec === undefined) throw new Error(`${nameOf(d)}: no pod spec`);
  return spec;
};
const containerOf = (d: IDeployment, name: string): IContainer => {
  const c = podSpecOf(d).containers.find((x) => x.name === name);
  if (c === undefined) throw new Error(`${nameOf(d)}: no container ${name}`);
  return c;
};
const sidecarOf = (d: IDeployment): IContainer => containerOf(d, 'chargeback-sidecar');
const vllmOf = (d: IDeployment): IContainer => containerOf(d, 'vllm');
const podLabelsOf = (d: IDeployment): Record<string, string> => d.spec?.template.metadata?.labels ?? {};
const envValue = (c: IContainer, name: string): string | undefined =>
  c.env?.find((e) => e.name === name)?.value;

const PACKAGE_VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

/** What the Downward API would give: a stand-in value per field path. */
const DOWNWARD: Record<string, string> = {
  'metadata.name': 'vllm-pod-7d9c-x2k4q',
  'spec.nodeName': 'aks-a100-0',
};
const envOf = (c: IContainer): Record<string, string> =>
  Object.fromEntries(
    (c.env ?? []).map((e) => {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      return [e.name, e.value ?? (field === undefined ? 'from-a-secret' : (DOWNWARD[field] ?? ''))];
    }),
  );
/** The sidecar's settings exactly as `chargeback sidecar` would load them in this pod. */
const settingsOf = (d: IDeployment): SidecarSettings => loadSidecarSettings({}, envOf(sidecarOf(d)));

/** Value after a flag in vLLM's argument list (`--port 8000`), or undefined. */
const argAfter = (args: readonly string[], flag: string): string | undefined => {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
};
const httpGetOf = (probe: IProbe | undefined): { path?: string; port?: number | string } | undefined =>
  probe?.httpGet;
/** A container port by number or by name, as a number. */
const resolvePort = (d: IDeployment, port: number | string | undefined): number | undefined =>
  typeof port === 'number'
    ? port
    : podSpecOf(d)
        .containers.flatMap((c) => c.ports ?? [])
        .find((p) => p.name === port)?.containerPort;
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);

const byName = (name: string): IDeployment => {
  const d = deployments.find((x) => nameOf(x) === name);
  if (d === undefined) throw new Error(`no Deployment ${name}`);
  return d;
};

// ---------------------------------------------------------------------------------------------

describe('vllm-deploy manifests: parsing and schemas', () => {
  it('parse into namespaced objects, each named once', () => {
    expect(FILES).toContain('kustomization.yaml');
    expect(objects.length).toBeGreaterThanOrEqual(12);
    for (const { file, doc } of objects) {
      expect(doc.metadata.name, file).toMatch(/^[a-z0-9-]+$/);
      if (doc.kind !== 'Namespace')
        expect(doc.metadata.namespace, `${file}: ${doc.kind}`).toBe('llm-serving');
    }
    const ids = objects.map((o) => `${o.doc.kind}/${o.doc.metadata.name}`);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('validate against the Kubernetes, KEDA and prometheus-operator schemas, with no unknown field', () => {
    for (const { file, doc } of objects) {
      expect(schemaProblems(doc), `${file}: ${doc.kind} ${doc.metadata.name}`).toEqual([]);
    }
  });

  it('the schema check catches a wrong type, a missing field and a misspelt field', () => {
    const deployment = objects.find((o) => o.doc.kind === 'Deployment')?.doc;
    const scaled = objects.find((o) => o.doc.kind === 'ScaledObject')?.doc;
    if (deployment === undefined || scaled === undefined) throw new Error('no Deployment or ScaledObject');
    const mutate = (doc: K8sObject, change: (copy: K8sObject) => void): string[] => {
      const copy = structuredClone(doc);
      change(copy);
      return schemaProblems(copy);
    };
    const container = (copy: K8sObject): Record<string, unknown> =>
      (copy as unknown as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } }).spec
        .template.spec.containers[0] ?? {};
    expect(
      mutate(deployment, (c) => {
        container(c).ports = [{ containerPort: '8000' }];
      }).join(),
    ).toMatch(/containerPort must be integer/);
    expect(
      mutate(deployment, (c) => {
        delete (c.spec as Record<string, unknown>).selector;
      }).join(),
    ).toMatch(/selector/);
    expect(
      mutate(deployment, (c) => {
        container(c).readinesProbe = container(c).readinessProbe;
      }),
    ).toEqual(['/spec/template/spec/containers/0/readinesProbe: not in the schema']);
    expect(
      mutate(scaled, (c) => {
        (c.spec as Record<string, unknown>).minReplicas = 1;
      }),
    ).toEqual(['/spec/minReplicas: not in the schema']);
    expect(schemaProblems({ ...deployment, apiVersion: 'extensions/v1beta1' })).toEqual([
      'no schema for extensions/v1beta1 Deployment',
    ]);
  });

  it('the kustomization lists every manifest file and nothing else', () => {
    const kustomization = loaded.find((o) => o.doc.kind === 'Kustomization')?.doc as
      { namespace?: string; resources?: string[] } | undefined;
    expect(kustomization?.namespace).toBe('llm-serving');
    expect([...(kustomization?.resources ?? [])].sort()).toEqual(
      FILES.filter((f) => f !== 'kustomization.yaml'),
    );
  });
});

describe('vllm-deploy manifests: the sidecar agrees with src/sidecar/settings.ts', () => {
  it('has the interactive and the batch Deployment, each defaulting to its own request class', () => {
    expect(deployments.map(nameOf).sort()).toEqual(['vllm-batch', 'vllm-interactive']);
    expect(envValue(sidecarOf(byName('vllm-batch')), SIDECAR_ENV.defaultClass)).toBe('batch');
    expect(settingsOf(byName('vllm-batch')).defaultClass).toBe('batch');
    expect(settingsOf(byName('vllm-interactive')).defaultClass).toBe('interactive');
    for (const d of deployments) {
      // vLLM runs lower priorities first: interactive ahead of batch, whichever pod they reach.
      const priorities = settingsOf(d).priorities;
      expect(priorities.get('interactive'), nameOf(d)).toBeLessThan(priorities.get('batch') ?? -Infinity);
    }
  });

  it('sets only environment variables the sidecar reads, and every one it requires', () => {
    const known = new Set<string>(Object.values(SIDECAR_ENV));
    for (const d of deployments) {
      const env = sidecarOf(d).env ?? [];
      for (const e of env) expect(known, `${nameOf(d)}: ${e.name}`).toContain(e.name);
      const names = env.map((e) => e.name);
      expect(new Set(names).size, `${nameOf(d)}: a variable set twice`).toBe(names.length);
      for (const required of [
        SIDECAR_ENV.pod,
        SIDECAR_ENV.node,
        SIDECAR_ENV.gpuSku,
        SIDECAR_ENV.gpuCount,
        SIDECAR_ENV.model,
        SIDECAR_ENV.eventHubNamespace,
      ]) {
        expect(names, `${nameOf(d)}: ${required}`).toContain(required);
      }
      const fieldPath = (name: string): string | undefined =>
        env.find((e) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;
      expect(fieldPath(SIDECAR_ENV.pod)).toBe('metadata.name');
      expect(fieldPath(SIDECAR_ENV.node)).toBe('spec.nodeName');
    }
  });

  it('gives the sidecar a configuration its own loader accepts, publishing to Event Hubs by identity', () => {
    for (const d of deployments) {
      const settings = settingsOf(d);
      expect(settings.sink, nameOf(d)).toEqual({ kind: 'eventhubs' });
      expect(settings.eventHub?.kind).toBe('identity');
      expect(settings.pod).toBe(DOWNWARD['metadata.name']);
    }
    // The loader is strict, so accepting the manifests means something:
    const broken = { ...envOf(sidecarOf(byName('vllm-batch'))), [SIDECAR_ENV.gpuCount]: 'two' };
    expect(() => loadSidecarSettings({}, broken)).toThrow(/GPU_COUNT/);
  });

  it('runs the chargeback CLI sidecar command from the image, as a non-root user', async () => {
    for (const d of deployments) {
      const sidecar = sidecarOf(d);
      expect(sidecar.command).toEqual(['node', '/app/bin/chargeback.js', 'sidecar']);
      expect(sidecar.image).toMatch(/^[a-z0-9]+\.azurecr\.io\/gpu-chargeback:\d+\.\d+\.\d+$/);
      // The image tag is the version of this package that builds it.
      expect(sidecar.image?.split(':').at(-1)).toBe(PACKAGE_VERSION);
      expect(sidecar.securityContext?.runAsNonRoot).toBe(true);
      expect(sidecar.securityContext?.readOnlyRootFilesystem).toBe(true);
      expect(sidecar.securityContext?.runAsUser).toBeGreaterThan(0);
    }
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done): void {
        out += chunk.toString();
        done();
      },
    });
    expect(await main(['sidecar', '--help'], { stdout: sink, stderr: sink })).toBe(0);
    expect(out).toMatch(/^Usage: chargeback sidecar/);
  });

  it('mounts the spool where the sidecar spools, on a per-pod disk the sidecar can write', () => {
    for (const d of deployments) {
      const pod = podSpecOf(d);
      const mount = sidecarOf(d).volumeMounts?.find((m) => m.mountPath === settingsOf(d).spoolDir);
      expect(mount, `${nameOf(d)}: no volume at ${settingsOf(d).spoolDir}`).toBeDefined();
      const volume = pod.volumes?.find((v) => v.name === mount?.name);
      expect(volume?.ephemeral?.volumeClaimTemplate?.spec.resources?.requests?.storage).toBeDefined();
      expect(mount?.readOnly ?? false).toBe(false);
      // A fresh disk belongs to root; fsGroup hands it to the sidecar's group.
      expect(pod.securityContext?.fsGroup).toBe(sidecarOf(d).securityContext?.runAsGroup);
      // With a read-only root file system, /tmp needs a volume of its own.
      expect(sidecarOf(d).volumeMounts?.map((m) => m.mountPath)).toContain('/tmp');
    }
  });
});

describe('vllm-deploy manifests: vLLM, GPUs and probes', () => {
  it('runs vLLM with the SPEC 7 flags and priority scheduling, on the port the sidecar calls', () => {
    for (const d of deployments) {
      const vllm = vllmOf(d);
      const args = vllm.args ?? [];
      expect(vllm.command, nameOf(d)).toEqual(['vllm', 'serve']);
      expect(args[0], `${nameOf(d)}: the model comes first`).toMatch(/^[\w.-]+\/[\w.-]+$/);
      for (const flag of [
        '--enable-request-id-headers',
        '--enable-prompt-tokens-details',
        '--enable-per-request-metrics',
      ]) {
        expect(args, `${nameOf(d)}: ${flag}`).toContain(flag);
      }
      expect(argAfter(args, '--scheduling-policy')).toBe('priority');
      const upstream = settingsOf(d).upstream;
      expect(upstream.hostname, 'the sidecar calls vLLM inside the pod').toBe('127.0.0.1');
      expect(argAfter(args, '--port')).toBe(upstream.port);
      expect(vllm.ports?.map((p) => p.containerPort)).toEqual([Number(upstream.port)]);
      expect(argAfter(args, '--served-model-name')).toBe(settingsOf(d).model);
      expect(vllm.image).toMatch(/^vllm\/vllm-openai:v\d+\.\d+\.\d+$/);
    }
  });

  it('asks for the GPUs the sidecar reports, on the VM size it reports, as the price card prices it', () => {
    const card = loadPriceCard(JSON.parse(readFileSync('prices/azure-a100.json', 'utf8')));
    for (const d of deployments) {
      const { gpuSku, gpuCount } = settingsOf(d);
      const resources = vllmOf(d).resources;
      expect(resources?.requests?.['nvidia.com/gpu'], nameOf(d)).toBe(String(gpuCount));
      expect(resources?.limits?.['nvidia.com/gpu'], nameOf(d)).toBe(String(gpuCount));
      expect(Number(argAfter(vllmOf(d).args ?? [], '--tensor-parallel-size') ?? '1')).toBe(gpuCount);
      const pod = podSpecOf(d);
      expect(pod.nodeSelector?.['node.kubernetes.io/instance-type']).toBe(gpuSku);
      expect(pod.nodeSelector?.['kubernetes.azure.com/accelerator']).toBe('nvidia');
      // A whole VM per pod: the pod's GPUs are the VM's, so per-GPU cost divides evenly.
      expect(
        card.periods(gpuSku)?.map((p) => p.gpusPerVm),
        `${gpuSku} on the price card`,
      ).toContain(gpuCount);
      const tolerations = (pod.tolerations ?? []).map(
        (t) => `${t.key ?? ''}=${t.value ?? '*'}:${t.effect ?? ''}`,
      );
      expect(tolerations).toEqual(
        expect.arrayContaining(['sku=gpu:NoSchedule', 'nvidia.com/gpu=*:NoSchedule']),
      );
    }
    expect(settingsOf(byName('vllm-interactive')).gpuSku).toBe('Standard_NC24ads_A100_v4');
    expect(settingsOf(byName('vllm-batch')).gpuSku).toBe('Standard_NC48ads_A100_v4');
  });

  it('gives vLLM a memory-backed /dev/shm', () => {
    for (const d of deployments) {
      const mount = vllmOf(d).volumeMounts?.find((m) => m.mountPath === '/dev/shm');
      const volume = podSpecOf(d).volumes?.find((v) => v.name === mount?.name);
      expect(volume?.emptyDir?.medium, nameOf(d)).toBe('Memory');
    }
  });

  it('probes what exists: vLLM /health on its port, the sidecar /readyz and /healthz on its admin port', () => {
    for (const d of deployments) {
      const settings = settingsOf(d);
      const sidecar = sidecarOf(d);
      const vllm = vllmOf(d);
      const admin = settings.adminListen.port;
      expect(httpGetOf(sidecar.readinessProbe)).toEqual({ path: '/readyz', port: admin });
      expect(httpGetOf(sidecar.livenessProbe)).toEqual({ path: '/healthz', port: admin });
      expect(sidecar.ports?.map((p) => p.containerPort).sort()).toEqual([settings.listen.port, admin].sort());
      for (const probe of [vllm.startupProbe, vllm.readinessProbe, vllm.livenessProbe]) {
        expect(httpGetOf(probe), nameOf(d)).toEqual({
          path: '/health',
          port: Number(settings.upstream.port),
        });
      }
      // A hung vLLM restarts without waiting out its preStop.
      expect(vllm.livenessProbe?.terminationGracePeriodSeconds).toBeLessThanOrEqual(60);
    }
  });

  it("the sidecar's admin server answers the probed paths (the real server, on loopback)", async () => {
    const spool = mkdtempSync(join(tmpdir(), 'deploy-spool-'));
    const sender: Sender = { send: () => Promise.resolve(), close: () => Promise.resolve() };
    try {
      for (const d of deployments) {
        const env = envOf(sidecarOf(d));
        const settings = loadSidecarSettings(
          { listen: '127.0.0.1:0', adminListen: '127.0.0.1:0', spoolDir: spool },
          env,
        );
        const sidecar = await startSidecar(settings, sender, () => undefined);
        try {
          const port = (sidecar.admin.address() as { port: number }).port;
          for (const probe of [sidecarOf(d).readinessProbe, sidecarOf(d).livenessProbe]) {
            const path = httpGetOf(probe)?.path ?? '';
            expect(await statusOf(port, path), `${nameOf(d)}: ${path}`).toBe(200);
          }
          expect(await statusOf(port, '/no-such-probe')).toBe(404);
        } finally {
          await sidecar.shutdown();
        }
      }
    } finally {
      rmSync(spool, { recursive: true, force: true });
    }
  });

  it('drains: the sidecar pauses then drains, vLLM waits for it, within the grace period', () => {
    for (const d of deployments) {
      const grace = podSpecOf(d).terminationGracePeriodSeconds ?? 30;
      expect(grace, nameOf(d)).toBeGreaterThanOrEqual(120);
      const pause = Number(sidecarOf(d).lifecycle?.preStop?.exec?.command?.at(-1));
      expect(pause).toBeGreaterThan(0);
      expect(pause).toBeLessThan(grace / 4);
      // vLLM's preStop polls the sidecar's liveness endpoint until the sidecar has exited.
      const waits = (vllmOf(d).lifecycle?.preStop?.exec?.command ?? []).join(' ');
      expect(waits).toContain(`http://127.0.0.1:${settingsOf(d).adminListen.port}/healthz`);
    }
    expect(podSpecOf(byName('vllm-batch')).terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
      podSpecOf(byName('vllm-interactive')).terminationGracePeriodSeconds ?? 0,
    );
  });
});

describe('vllm-deploy manifests: exposure, disruption, scaling, identity', () => {
  it('each Deployment has one Service, and it targets only the sidecar proxy port', () => {
    const services = ofKind<IService>('Service');
    expect(services.length).toBe(deployments.length);
    for (const d of deployments) {
      const mine = services.filter((s) => selects(s.spec?.selector, podLabelsOf(d)));
      expect(mine.length, nameOf(d)).toBe(1);
      const ports = mine[0]?.spec?.ports ?? [];
      expect(ports.length).toBeGreaterThan(0);
      for (const p of ports) {
        expect(resolvePort(d, p.targetPort ?? p.port), `${nameOf(d)}: ${String(p.targetPort)}`).toBe(
          settingsOf(d).listen.port,
        );
      }
    }
  });

  it('a NetworkPolicy admits other pods only to the sidecar ports, never to vLLM', () => {
    const policies = ofKind<INetworkPolicy>('NetworkPolicy');
    for (const d of deployments) {
      const mine = policies.filter((p) => selects(p.spec?.podSelector.matchLabels, podLabelsOf(d)));
      expect(mine.length, nameOf(d)).toBe(1);
      const spec = mine[0]?.spec;
      expect(spec?.policyTypes).toContain('Ingress');
      const rules = spec?.ingress ?? [];
      expect(rules.length).toBeGreaterThan(0);
      const allowed = rules.flatMap((r) => {
        expect(r.ports, 'a rule without ports admits every port').toBeDefined();
        return (r.ports ?? []).map((p) => resolvePort(d, p.port));
      });
      const { listen, adminListen, upstream } = settingsOf(d);
      expect(allowed.sort()).toEqual([listen.port, adminListen.port].sort());
      expect(allowed).not.toContain(Number(upstream.port));
    }
  });

  it('each Deployment has a PodDisruptionBudget letting one pod go at a time', () => {
    const budgets = ofKind<IPodDisruptionBudget>('PodDisruptionBudget');
    for (const d of deployments) {
      const mine = budgets.filter((b) => selects(b.spec?.selector?.matchLabels, podLabelsOf(d)));
      expect(mine.length, nameOf(d)).toBe(1);
      expect(mine[0]?.spec?.maxUnavailable).toBe(1);
    }
  });

  it('KEDA scales each Deployment on its own vLLM queue, never to zero', () => {
    const scaled = ofKind<IScaledObject>('ScaledObject');
    const auths = new Set(
      objects.filter((o) => o.doc.kind === 'TriggerAuthentication').map((o) => o.doc.metadata.name),
    );
    expect(scaled.length).toBe(deployments.length);
    const thresholds = new Map<string, number>();
    for (const d of deployments) {
      const mine = scaled.filter((s) => s.spec.scaleTargetRef.name === nameOf(d));
      expect(mine.length, nameOf(d)).toBe(1);
      const spec = mine[0]?.spec;
      // KEDA owns the replica count; a fixed one in the Deployment would fight it on every apply.
      expect(d.spec?.replicas, nameOf(d)).toBeUndefined();
      expect(spec?.scaleTargetRef.kind ?? 'Deployment').toBe('Deployment');
      // The queue lives in the vLLM pods: at zero pods no metric could bring the first one back.
      expect(spec?.minReplicaCount ?? 0).toBeGreaterThanOrEqual(1);
      expect(spec?.maxReplicaCount ?? 0).toBeGreaterThan(spec?.minReplicaCount ?? 0);
      const triggers = spec?.triggers ?? [];
      expect(triggers.length).toBeGreaterThan(0);
      for (const t of triggers) {
        expect(t.type).toBe('prometheus');
        expect(t.metadata.query).toContain('vllm:num_requests_waiting');
        expect(t.metadata.query).toContain(`model_name="${settingsOf(d).model}"`);
        expect(t.metadata.serverAddress).toMatch(/^https?:\/\//);
        expect(Number(t.metadata.threshold)).toBeGreaterThan(0);
        if (t.authenticationRef !== undefined) expect(auths).toContain(t.authenticationRef.name);
        thresholds.set(nameOf(d), Number(t.metadata.threshold));
      }
    }
    expect(
      scaled.find((s) => s.spec.scaleTargetRef.name === 'vllm-interactive')?.spec.minReplicaCount,
    ).toBeGreaterThanOrEqual(2);
    expect(thresholds.get('vllm-batch')).toBeGreaterThan(thresholds.get('vllm-interactive') ?? Infinity);
  });

  it("Prometheus scrapes vLLM's metrics through the sidecar and the sidecar's own admin metrics", () => {
    const monitors = ofKind<IPodMonitor>('PodMonitor');
    for (const d of deployments) {
      const mine = monitors.filter((m) => selects(m.spec.selector.matchLabels, podLabelsOf(d)));
      expect(mine.length, nameOf(d)).toBe(1);
      const endpoints = (mine[0]?.spec.podMetricsEndpoints ?? []).map(
        (e) => `${String(resolvePort(d, e.port))}${e.path ?? '/metrics'}`,
      );
      const { listen, adminListen } = settingsOf(d);
      expect(endpoints.sort()).toEqual([`${listen.port}/metrics`, `${adminListen.port}/metrics`].sort());
    }
  });

  it('uses one workload-identity service account, and only the sidecar gets the Azure token', () => {
    const accounts = ofKind<IServiceAccount>('ServiceAccount');
    expect(accounts.length).toBe(1);
    const account = accounts[0];
    expect(account?.metadata?.annotations?.['azure.workload.identity/client-id']).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    for (const d of deployments) {
      expect(podSpecOf(d).serviceAccountName, nameOf(d)).toBe(nameOf(account ?? {}));
      expect(podLabelsOf(d)['azure.workload.identity/use']).toBe('true');
      const skipped = d.spec?.template.metadata?.annotations?.['azure.workload.identity/skip-containers'];
      expect(skipped?.split(';')).toEqual([vllmOf(d).name]);
    }
  });
});

describe('vllm-deploy/sidecar.Dockerfile', () => {
  const dockerfile = readFileSync(join(DIR, 'sidecar.Dockerfile'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
  const instructions = (name: string): string[] =>
    dockerfile.filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1).trim());

  it('builds on node:22-slim with npm ci and npm run build, and runs as the manifests’ non-root user', () => {
    const from = instructions('FROM');
    expect(from.length).toBeGreaterThan(0);
    for (const f of from) expect(f).toMatch(/^node:22-slim( AS \w+)?$/);
    const run = instructions('RUN').join(' && ');
    expect(run).toMatch(/\bnpm ci\b/);
    expect(run).toMatch(/\bnpm run build\b/);
    const user = instructions('USER').at(-1) ?? '';
    const [uid, gid] = user.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    for (const d of deployments) {
      expect(sidecarOf(d).securityContext?.runAsUser, nameOf(d)).toBe(uid);
      expect(sidecarOf(d).securityContext?.runAsGroup, nameOf(d)).toBe(gid ?? uid);
    }
  });

  it('copies what the build compiles and what the container command runs', () => {
    const copied = instructions('COPY')
      .filter((c) => !c.startsWith('--from'))
      .flatMap((c) => c.split(/\s+/).slice(0, -1));
    for (const source of copied) expect(existsSync(source), `COPY ${source}`).toBe(true);
    const build = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as { include: string[] };
    for (const dir of build.include) expect(copied, `tsconfig.build.json includes ${dir}`).toContain(dir);
    // The sidecar's command runs /app/bin/chargeback.js, which loads the compiled CLI from dist/.
    expect(instructions('WORKDIR').at(-1)).toBe('/app');
    expect(instructions('COPY')).toEqual(
      expect.arrayContaining(['bin ./bin', '--from=build /app/dist ./dist']),
    );
    expect(readFileSync('bin/chargeback.js', 'utf8')).toContain('../dist/src/cli/entry.js');
  });
});

function statusOf(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}
