import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DEPLOYABLES } from '../../scripts/deployables.js';
import { main } from '../../src/cli/main.js';
import { loadSidecarSettings, SIDECAR_ENV } from '../../src/sidecar/settings.js';
import {
  byName,
  deployments,
  DOWNWARD,
  envOf,
  envValue,
  nameOf,
  PACKAGE_VERSION,
  podSpecOf,
  settingsOf,
  sidecarOf,
} from './manifests.js';

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

  it("runs the image's sidecar entry point as a non-root user, and `chargeback sidecar` is the same command", async () => {
    for (const d of deployments) {
      const sidecar = sidecarOf(d);
      // The image's own entry point, the one the Dockerfile's ENTRYPOINT names (sidecar-image.test.ts).
      expect(sidecar.command).toEqual(['node', `/app/${DEPLOYABLES.sidecar.main}`]);
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
