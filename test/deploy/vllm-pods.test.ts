import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPriceCard } from '../../src/domain/prices.js';
import type { Sender } from '../../src/sidecar/pipe.js';
import { loadSidecarSettings } from '../../src/sidecar/settings.js';
import { startSidecar } from '../../src/sidecar/sidecar.js';
import {
  argAfter,
  byName,
  deployments,
  envOf,
  httpGetOf,
  nameOf,
  podSpecOf,
  settingsOf,
  sidecarOf,
  statusOf,
  vllmOf,
} from './manifests.js';

describe('vllm-deploy manifests: vLLM, GPUs and probes', () => {
  it('runs vLLM with the contracts.md §7 flags and priority scheduling, on the port the sidecar calls', () => {
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
        const sidecar = await startSidecar(
          settings,
          sender,
          () => undefined,
          () => undefined,
        );
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
