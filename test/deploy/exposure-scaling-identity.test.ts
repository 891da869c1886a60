import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { ICronJob } from 'kubernetes-models/batch/v1';
import type { IService, IServiceAccount } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import {
  deployments,
  nameOf,
  objects,
  ofKind,
  podLabelsOf,
  podSpecOf,
  resolvePort,
  selects,
  settingsOf,
  vllmOf,
} from './manifests.js';

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
    // The other account is the regression harness's (evaluation-cronjob.yaml), checked below.
    const accounts = ofKind<IServiceAccount>('ServiceAccount').filter(
      (a) => nameOf(a) !== 'evaluation-harness',
    );
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

  it('runs the regression harness per served model, under its own identity, through the sidecar', () => {
    const harness = ofKind<IServiceAccount>('ServiceAccount').find((a) => nameOf(a) === 'evaluation-harness');
    expect(harness?.metadata?.annotations?.['azure.workload.identity/client-id']).toMatch(/^[0-9a-f-]{36}$/);
    const jobs = ofKind<ICronJob>('CronJob');
    const served = deployments.map((d) => {
      const args = vllmOf(d).args ?? [];
      return { model: args[args.indexOf('--served-model-name') + 1], service: nameOf(d) };
    });
    expect(jobs.map((j) => j.metadata?.labels?.['chargeback/model']).sort()).toEqual(
      served.map((s) => s.model).sort(),
    );
    for (const job of jobs) {
      const pod = job.spec?.jobTemplate.spec?.template.spec;
      expect(pod?.serviceAccountName).toBe('evaluation-harness');
      expect(job.spec?.jobTemplate.spec?.template.metadata?.labels?.['azure.workload.identity/use']).toBe(
        'true',
      );
      const args = pod?.containers[0]?.args ?? [];
      const model = job.metadata?.labels?.['chargeback/model'];
      const endpoint = args[args.indexOf('--endpoint') + 1] ?? '';
      // Through the model's own Service on the sidecar's port, so the run is metered and billed.
      const service = served.find((s) => s.model === model)?.service ?? 'none';
      expect(endpoint).toBe(`http://${service}.llm-serving.svc.cluster.local:8080`);
      expect(args[args.indexOf('--model') + 1]).toBe(model);
      expect(args).toContain('--send');
    }
  });
});
