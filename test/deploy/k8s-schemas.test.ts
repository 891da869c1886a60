import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { CronJob } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { FILES, loaded, objects, type K8sObject } from './manifests.js';

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
  'batch/v1/CronJob': { model: CronJob },
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
