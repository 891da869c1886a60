import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { SIDECAR_ENV } from '../../src/sidecar/settings.js';

const DIR = 'vllm-deploy';
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

const manifests: { file: string; doc: Manifest }[] = FILES.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: d.toJS() as Manifest };
  }),
);
const objects = manifests.filter((m) => m.doc.kind !== 'Kustomization');

// The Kubernetes schemas of kubernetes-models (core and KEDA's CRDs), validated offline with ajv.
const VALIDATORS: Record<string, (doc: Manifest) => void> = {
  'v1/Namespace': (d) => {
    new Namespace(d).validate();
  },
  'v1/ServiceAccount': (d) => {
    new ServiceAccount(d).validate();
  },
  'v1/Service': (d) => {
    new Service(d).validate();
  },
  'apps/v1/Deployment': (d) => {
    new Deployment(d as never).validate();
  },
  'policy/v1/PodDisruptionBudget': (d) => {
    new PodDisruptionBudget(d).validate();
  },
  'keda.sh/v1alpha1/ScaledObject': (d) => {
    new ScaledObject(d as never).validate();
  },
  'keda.sh/v1alpha1/TriggerAuthentication': (d) => {
    new TriggerAuthentication(d as never).validate();
  },
};

interface Container {
  name: string;
  args?: string[];
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: number } };
  livenessProbe?: { httpGet?: { path: string; port: number } };
  startupProbe?: { httpGet?: { path: string; port: number } };
}

const deployments = objects.filter((m) => m.doc.kind === 'Deployment').map((m) => m.doc);
const containersOf = (d: Manifest): Container[] =>
  (d.spec?.template as { spec: { containers: Container[] } } | undefined)?.spec.containers ?? [];
const sidecarOf = (d: Manifest): Container => {
  const c = containersOf(d).find(
    (x) => x.command?.includes('sidecar') === true || x.args?.includes('sidecar') === true,
  );
  if (c === undefined) throw new Error(`${d.metadata.name}: no sidecar container`);
  return c;
};
const vllmOf = (d: Manifest): Container => {
  const c = containersOf(d).find((x) => x.name === 'vllm');
  if (c === undefined) throw new Error(`${d.metadata.name}: no vllm container`);
  return c;
};
const envOf = (c: Container, name: string): string | undefined => c.env?.find((e) => e.name === name)?.value;
const portOf = (hostPort: string | undefined): number => Number(hostPort?.split(':').pop());

describe('vllm-deploy manifests', () => {
  it('parse, and every object validates against its Kubernetes or KEDA schema', () => {
    expect(objects.length).toBeGreaterThan(8);
    for (const { file, doc } of objects) {
      const validate = VALIDATORS[`${doc.apiVersion}/${doc.kind}`];
      expect(validate, `${file}: no schema for ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      expect(() => validate?.(doc), `${file}: ${doc.kind} ${doc.metadata.name}`).not.toThrow();
    }
  });

  it('the kustomization lists every manifest file', () => {
    const kustomization = manifests.find((m) => m.doc.kind === 'Kustomization')?.doc as
      { resources?: string[] } | undefined;
    expect([...(kustomization?.resources ?? [])].sort()).toEqual(
      FILES.filter((f) => f !== 'kustomization.yaml').sort(),
    );
  });

  it('has an interactive and a batch Deployment, each with a sidecar whose default class matches', () => {
    const byClass = new Map(deployments.map((d) => [envOf(sidecarOf(d), SIDECAR_ENV.defaultClass), d]));
    expect([...byClass.keys()].sort()).toEqual(['batch', 'interactive']);
  });

  it('runs vLLM with the flags SPEC 7 requires and priority scheduling, on the port the sidecar calls', () => {
    for (const d of deployments) {
      const args = vllmOf(d).args ?? [];
      for (const flag of [
        '--enable-request-id-headers',
        '--enable-prompt-tokens-details',
        '--enable-per-request-metrics',
      ]) {
        expect(args, `${d.metadata.name}: ${flag}`).toContain(flag);
      }
      expect(args[args.indexOf('--scheduling-policy') + 1]).toBe('priority');
      const port = Number(args[args.indexOf('--port') + 1]);
      expect(new URL(envOf(sidecarOf(d), SIDECAR_ENV.upstream) ?? '').port).toBe(String(port));
      expect(vllmOf(d).ports?.map((p) => p.containerPort)).toContain(port);
      expect(args[args.indexOf('--served-model-name') + 1]).toBe(envOf(sidecarOf(d), SIDECAR_ENV.model));
    }
  });

  it('sets only environment variables the sidecar reads, and every one it requires', () => {
    const known = new Set<string>(Object.values(SIDECAR_ENV));
    for (const d of deployments) {
      const env = sidecarOf(d).env ?? [];
      for (const e of env) expect(known, `${d.metadata.name}: ${e.name}`).toContain(e.name);
      const names = env.map((e) => e.name);
      for (const required of [
        SIDECAR_ENV.pod,
        SIDECAR_ENV.gpuSku,
        SIDECAR_ENV.gpuCount,
        SIDECAR_ENV.model,
        SIDECAR_ENV.eventHubNamespace,
      ]) {
        expect(names, `${d.metadata.name}: ${required}`).toContain(required);
      }
      expect(env.find((e) => e.name === SIDECAR_ENV.pod)?.valueFrom?.fieldRef?.fieldPath).toBe(
        'metadata.name',
      );
    }
  });

  it('asks for the GPUs the sidecar reports, on the VM size it reports', () => {
    for (const d of deployments) {
      const sidecar = sidecarOf(d);
      const resources = (vllmOf(d) as { resources?: { limits?: Record<string, string> } }).resources;
      expect(resources?.limits?.['nvidia.com/gpu']).toBe(envOf(sidecar, SIDECAR_ENV.gpuCount));
      const nodeSelector = (d.spec?.template as { spec: { nodeSelector?: Record<string, string> } }).spec
        .nodeSelector;
      expect(nodeSelector?.['node.kubernetes.io/instance-type']).toBe(envOf(sidecar, SIDECAR_ENV.gpuSku));
    }
  });

  it('probes ports and paths that exist: vLLM /health, the sidecar admin /healthz and /readyz', () => {
    for (const d of deployments) {
      const sidecar = sidecarOf(d);
      const admin = portOf(envOf(sidecar, SIDECAR_ENV.adminListen));
      expect(sidecar.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: admin });
      expect(sidecar.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: admin });
      const vllmPort = new URL(envOf(sidecar, SIDECAR_ENV.upstream) ?? '').port;
      for (const probe of [vllmOf(d).readinessProbe, vllmOf(d).livenessProbe, vllmOf(d).startupProbe]) {
        expect(probe?.httpGet).toEqual({ path: '/health', port: Number(vllmPort) });
      }
    }
  });

  it('exposes only the sidecar: every Service targets the sidecar listen port of its Deployment', () => {
    const services = objects.filter((m) => m.doc.kind === 'Service').map((m) => m.doc);
    expect(services.length).toBe(deployments.length);
    for (const s of services) {
      const selector = (s.spec?.selector ?? {}) as Record<string, string>;
      const d = deployments.find(
        (x) =>
          (x.spec?.selector as { matchLabels: Record<string, string> }).matchLabels[
            'app.kubernetes.io/name'
          ] === selector['app.kubernetes.io/name'],
      );
      expect(d, s.metadata.name).toBeDefined();
      if (d === undefined) continue;
      const listen = portOf(envOf(sidecarOf(d), SIDECAR_ENV.listen));
      const ports = (s.spec?.ports ?? []) as { targetPort: number }[];
      expect(ports.map((p) => p.targetPort)).toEqual([listen]);
    }
  });

  it('gives each Deployment a PodDisruptionBudget and a KEDA ScaledObject on vLLM metrics', () => {
    for (const d of deployments) {
      const name = d.metadata.name;
      expect(
        objects.some((m) => m.doc.kind === 'PodDisruptionBudget' && m.doc.metadata.name === name),
        name,
      ).toBe(true);
      const scaled = objects.find(
        (m) =>
          m.doc.kind === 'ScaledObject' && (m.doc.spec?.scaleTargetRef as { name: string }).name === name,
      );
      expect(scaled, name).toBeDefined();
      const triggers = (scaled?.doc.spec?.triggers ?? []) as { type: string; metadata: { query: string } }[];
      expect(
        triggers.some(
          (t) => t.type === 'prometheus' && t.metadata.query.includes('vllm:num_requests_waiting'),
        ),
      ).toBe(true);
    }
  });

  it('uses one workload-identity service account that the pods opt into', () => {
    const accounts = objects.filter((m) => m.doc.kind === 'ServiceAccount').map((m) => m.doc);
    expect(accounts.length).toBe(1);
    const account = accounts[0] as { metadata: { name: string; annotations?: Record<string, string> } };
    expect(account.metadata.annotations?.['azure.workload.identity/client-id']).toBeDefined();
    for (const d of deployments) {
      const template = d.spec?.template as {
        metadata: { labels: Record<string, string> };
        spec: { serviceAccountName: string };
      };
      expect(template.spec.serviceAccountName).toBe(account.metadata.name);
      expect(template.metadata.labels['azure.workload.identity/use']).toBe('true');
    }
  });
});
