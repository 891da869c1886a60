import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEPLOYABLES } from '../../scripts/deployables.js';
import { SIDECAR_HELP } from '../../src/cli/sidecar-command.js';
import { deployments, dockerCopiedSources, dockerInstructions, nameOf, sidecarOf } from './manifests.js';

describe('vllm-deploy/sidecar.Dockerfile', () => {
  it('builds on node:22-slim with npm ci and the sidecar packaging, and runs as the manifests’ non-root user', () => {
    const from = dockerInstructions('FROM');
    expect(from.length).toBeGreaterThan(0);
    for (const f of from) expect(f).toMatch(/^node:22-slim( AS \w+)?$/);
    const run = dockerInstructions('RUN').join(' && ');
    expect(run).toMatch(/\bnpm ci\b/);
    expect(run).toMatch(/\bnpm run package:sidecar\b/);
    const user = dockerInstructions('USER').at(-1) ?? '';
    const [uid, gid] = user.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    for (const d of deployments) {
      expect(sidecarOf(d).securityContext?.runAsUser, nameOf(d)).toBe(uid);
      expect(sidecarOf(d).securityContext?.runAsGroup, nameOf(d)).toBe(gid ?? uid);
    }
  });

  it('copies what the sidecar build compiles, and neither the Functions nor dev code nor the benchmarks', () => {
    const copied = dockerCopiedSources();
    for (const source of copied) expect(existsSync(source), `COPY ${source}`).toBe(true);
    const { tsconfig } = DEPLOYABLES.sidecar;
    const config = JSON.parse(readFileSync(tsconfig, 'utf8')) as {
      extends?: string;
      files?: string[];
      include?: string[];
    };
    expect(copied).toEqual(expect.arrayContaining([tsconfig, (config.extends ?? '').replace(/^\.\//, '')]));
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'scripts']));
    for (const entry of [...(config.files ?? []), ...(config.include ?? [])]) {
      expect(
        copied.some((dir) => entry === dir || entry.startsWith(`${dir}/`)),
        `${tsconfig} compiles ${entry}`,
      ).toBe(true);
    }
    // deployables.test.ts checks that every file this tsconfig compiles lies in a copied folder.
    for (const dir of ['functions', 'dev', 'bench', 'test', 'bin']) expect(copied).not.toContain(dir);
  });

  it('ships the packaged folder and starts the entry point the manifests run', () => {
    const run = dockerInstructions('RUN').join(' && ');
    const out = /package:sidecar -- --out (\S+)/.exec(run)?.[1];
    expect(out, 'the packaging writes to a folder the runtime stage copies').toBeDefined();
    expect(dockerInstructions('WORKDIR').at(-1)).toBe('/app');
    expect(dockerInstructions('COPY')).toContain(`--from=build ${out ?? ''} ./`);
    const entrypoint = JSON.parse(dockerInstructions('ENTRYPOINT').at(-1) ?? '[]') as string[];
    expect(entrypoint).toEqual(['node', `/app/${DEPLOYABLES.sidecar.main}`]);
    for (const d of deployments) expect(sidecarOf(d).command, nameOf(d)).toEqual(entrypoint);
  });

  it('the entry point is `chargeback sidecar`: the same help, and exit 2 on a bad setting', async () => {
    const entry = DEPLOYABLES.sidecar.main.replace(/^dist\//, '').replace(/\.js$/, '.ts');
    const run = (args: string[], env: Record<string, string>) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', entry, ...args], {
        env: { PATH: '', ...env },
      });
    expect((await run(['--help'], {})).stdout).toBe(`${SIDECAR_HELP}\n`);
    const failed = await run([], { POD_NAME: 'p', GPU_COUNT: 'two' }).then(
      () => ({ code: 0, stderr: '' }),
      (error: unknown) => error as { code: number; stderr: string },
    );
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(/^chargeback: .*GPU_COUNT/);
    expect(failed.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
