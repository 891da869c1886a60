import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { ICronJob } from 'kubernetes-models/batch/v1';
import type { IContainer, IPodSpec } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSuiteModel } from '../../dev/evaluation-demo.js';
import {
  compileDeployable,
  DEPLOYABLES,
  packageDrift,
  readLockfile,
  runtimeClosure,
  type Compiled,
} from '../../scripts/deployables.js';
import { packageDeployable } from '../../scripts/package.js';
import { EVALUATE_HELP } from '../../src/cli/evaluate-command.js';
import { HELP } from '../../src/cli/main.js';
import { dockerCopiedSources, dockerInstructions, nameOf, ofKind, PACKAGE_VERSION } from './manifests.js';

/**
 * The command line's image (vllm-deploy/cli.Dockerfile) and the `cli` deployable it packages, held
 * to the CronJobs of vllm-deploy/evaluation-cronjob.yaml that run it. The image build itself needs
 * Docker; what it runs is the packaged folder, which is made here once and run with its own
 * node_modules alone, outside the repository.
 */
const DOCKERFILE = 'cli.Dockerfile';
const cli = DEPLOYABLES.cli;
const run = promisify(execFile);
const own = JSON.parse(readFileSync('package.json', 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

const jobs = ofKind<ICronJob>('CronJob');
const podOf = (job: ICronJob): IPodSpec => {
  const pod = job.spec?.jobTemplate.spec?.template.spec;
  if (pod === undefined) throw new Error(`${nameOf(job)}: no pod spec`);
  return pod;
};
const containerOf = (job: ICronJob): IContainer => {
  const [container, ...more] = podOf(job).containers;
  if (container === undefined || more.length > 0) throw new Error(`${nameOf(job)}: not one container`);
  return container;
};
const argAfter = (args: readonly string[], flag: string): string => {
  const at = args.indexOf(flag);
  if (at < 0 || args[at + 1] === undefined) throw new Error(`no ${flag} in ${args.join(' ')}`);
  return args[at + 1] ?? '';
};
/** The suite folder a CronJob names under the image's /app/suites/. */
const suiteOf = (job: ICronJob): string => {
  const suite = argAfter(containerOf(job).args ?? [], '--suite');
  const name = /^\/app\/suites\/([^/]+)$/.exec(suite)?.[1];
  if (name === undefined) throw new Error(`${nameOf(job)}: --suite ${suite} is not under /app/suites/`);
  return name;
};

let compiled: Compiled;
beforeAll(() => {
  compiled = compileDeployable('cli');
});

describe('the cli deployable', () => {
  it('compiles the command line and the report worker, and none of the Functions, dev, bench or test code', () => {
    expect(compiled.sources).toEqual(
      expect.arrayContaining(['src/cli/entry.ts', 'src/cli/main.ts', 'src/cli/report-worker.ts']),
    );
    for (const file of compiled.sources) expect(file).toMatch(/^src\//);
    const outputs = [...compiled.outputs.keys()];
    expect(outputs).toContain(cli.main.replace(/^dist\//, ''));
    // A module started by URL (a worker thread) is not an import: its file must be emitted too.
    for (const source of compiled.sources) {
      for (const [, started] of readFileSync(source, 'utf8').matchAll(
        /new URL\('(\.[^']+\.js)', import\.meta\.url\)/g,
      )) {
        expect(outputs, `${source} starts ${started ?? ''}`).toContain(
          join(source, '..', started ?? '').replace(/\\/g, '/'),
        );
      }
    }
  });

  it('declares exactly its imports, each a runtime dependency that an install without dev dependencies has', () => {
    expect(compiled.packages).toEqual([...cli.packages].sort());
    expect(packageDrift('cli', compiled)).toEqual({ missing: [], unused: [] });
    for (const name of cli.packages) expect(own.dependencies[name], name).toBeDefined();
    const lock = readLockfile();
    for (const path of runtimeClosure(lock, cli.packages)) {
      const entry = lock.packages[path];
      expect(entry?.dev === true || entry?.devOptional === true, `${path} is a dev package`).toBe(false);
    }
  });
});

describe('vllm-deploy/cli.Dockerfile', () => {
  it('builds on node:22-slim with npm ci and the cli packaging, and runs as the CronJobs’ non-root user', () => {
    const from = dockerInstructions('FROM', DOCKERFILE);
    expect(from.length).toBeGreaterThan(1);
    for (const f of from) expect(f).toMatch(/^node:22-slim( AS \w+)?$/);
    const steps = dockerInstructions('RUN', DOCKERFILE).join(' && ');
    expect(steps).toMatch(/\bnpm ci\b/);
    expect(steps).toMatch(/\bnpm run package:cli\b/);
    const [uid, gid] = (dockerInstructions('USER', DOCKERFILE).at(-1) ?? '').split(':').map(Number);
    expect(uid).toBe(10001);
    expect(jobs.length).toBeGreaterThan(0);
    for (const job of jobs) {
      expect(podOf(job).securityContext?.runAsUser, nameOf(job)).toBe(uid);
      expect(podOf(job).securityContext?.runAsGroup, nameOf(job)).toBe(gid ?? uid);
    }
  });

  it('copies only what exists: what the cli build compiles and ships, and none of the Functions, dev code, benchmarks or tests', () => {
    const copied = dockerCopiedSources(DOCKERFILE);
    for (const source of copied) expect(existsSync(source), `COPY ${source}`).toBe(true);
    const config = JSON.parse(readFileSync(cli.tsconfig, 'utf8')) as { extends?: string; files?: string[] };
    expect(copied).toEqual(
      expect.arrayContaining([
        cli.tsconfig,
        (config.extends ?? '').replace(/^\.\//, ''),
        'package.json',
        'package-lock.json',
        'scripts',
        ...cli.extraFiles,
      ]),
    );
    const inCopied = (file: string): boolean =>
      copied.some((dir) => file === dir || file.startsWith(`${dir}/`));
    for (const file of [...(config.files ?? []), ...compiled.sources])
      expect(inCopied(file), file).toBe(true);
    for (const dir of ['functions', 'dev', 'bench', 'test', 'bin', 'bicep'])
      expect(copied).not.toContain(dir);
    // The build context leaves out what the image makes for itself.
    const ignored = readFileSync(`vllm-deploy/${DOCKERFILE}.dockerignore`, 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', 'out']));
    for (const source of copied) expect(ignored, source).not.toContain(source);
  });

  it('ships the packaged folder at /app and starts the command line, which the CronJobs give `evaluate`', () => {
    const out = /package:cli -- --out (\S+)/.exec(dockerInstructions('RUN', DOCKERFILE).join(' && '))?.[1];
    expect(out, 'the packaging writes to a folder the runtime stage copies').toBeDefined();
    expect(dockerInstructions('WORKDIR', DOCKERFILE).at(-1)).toBe('/app');
    expect(dockerInstructions('COPY', DOCKERFILE)).toContain(`--from=build ${out ?? ''} ./`);
    const entrypoint = JSON.parse(dockerInstructions('ENTRYPOINT', DOCKERFILE).at(-1) ?? '[]') as string[];
    expect(entrypoint).toEqual(['node', `/app/${cli.main}`]);
    for (const job of jobs) {
      expect(containerOf(job).command, nameOf(job)).toBeUndefined();
      expect(containerOf(job).args?.[0], nameOf(job)).toBe('evaluate');
    }
  });

  it('is the image the CronJobs run, under the name and version the docs build and push', () => {
    const built = (text: string): string[] =>
      [...text.matchAll(/-f vllm-deploy\/cli\.Dockerfile -t <acr>\.azurecr\.io\/([\w.-]+:[\w.-]+)/g)].map(
        (m) => m[1] ?? '',
      );
    const documented = [
      ...built(readFileSync('docs/deployment.md', 'utf8')),
      ...built(readFileSync(`vllm-deploy/${DOCKERFILE}`, 'utf8')),
    ];
    expect(documented.length).toBeGreaterThanOrEqual(2);
    const images = new Set(jobs.map((job) => containerOf(job).image ?? ''));
    expect(images.size).toBe(1);
    const [image = ''] = images;
    const [, repository] = /^[a-z0-9]+\.azurecr\.io\/(.+)$/.exec(image) ?? [];
    for (const name of documented) expect(repository).toBe(name);
    expect(repository).toBe(`gpu-chargeback-cli:${PACKAGE_VERSION}`);
  });

  it('holds every suite a CronJob names, a suite for that job’s model', () => {
    expect(cli.extraFiles).toContain('suites');
    for (const job of jobs) {
      const suite = JSON.parse(readFileSync(join('suites', suiteOf(job), 'suite.json'), 'utf8')) as {
        models: string[];
      };
      expect(suite.models, nameOf(job)).toContain(argAfter(containerOf(job).args ?? [], '--model'));
      expect(existsSync(join('suites', suiteOf(job), 'cases.jsonl')), nameOf(job)).toBe(true);
    }
  });
});

describe('the packaged command line, with its own node_modules alone', () => {
  // Outside the repository: a package missing from the folder cannot be found in ours.
  const scratch = mkdtempSync(join(tmpdir(), 'cli-image-'));
  const out = join(scratch, 'app');
  const chargeback = (args: readonly string[], cwd = out) =>
    run(process.execPath, [join(out, cli.main), ...args], { cwd, env: { PATH: '' } });
  beforeAll(() => {
    packageDeployable('cli', out);
  }, 180_000);
  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it('answers --help, evaluate --help and --version', async () => {
    expect((await chargeback(['--help'], scratch)).stdout).toBe(`${HELP}\n`);
    expect((await chargeback(['evaluate', '--help'])).stdout).toBe(`${EVALUATE_HELP}\n`);
    expect((await chargeback(['--version'])).stdout).toBe(`${PACKAGE_VERSION}\n`);
  });

  it('holds its packages and their dependencies, no Functions or dev package, and the files its defaults name', async () => {
    for (const name of cli.packages) expect(existsSync(join(out, 'node_modules', name)), name).toBe(true);
    for (const name of ['@azure/functions', ...Object.keys(own.devDependencies)])
      expect(existsSync(join(out, 'node_modules', name)), name).toBe(false);
    for (const dir of cli.extraFiles) {
      for (const file of readdirSync(dir, { recursive: true, withFileTypes: true }).filter((f) =>
        f.isFile(),
      )) {
        const path = join(file.parentPath, file.name);
        expect(readFileSync(join(out, path), 'utf8'), path).toBe(readFileSync(path, 'utf8'));
      }
    }
    // package.json, package-lock.json and node_modules agree, so `npm ci` there installs the same.
    await run('npm', ['ls', '--all', '--omit=dev'], { cwd: out });
  }, 60_000);

  it('starts the report’s worker thread from the package', async () => {
    const worker = new Worker(join(out, 'dist', 'src', 'cli', 'report-worker.js'));
    try {
      const reply = new Promise<unknown>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      worker.postMessage({ kind: 'unit', id: 'u1', spills: [], run: 'r', rejectedRun: 'x' });
      expect(await reply).toMatchObject({
        kind: 'error',
        id: 'u1',
        message: expect.stringMatching(/before init/),
      });
    } finally {
      await worker.terminate();
    }
  });

  it.each(jobs.map((job) => [nameOf(job), job] as const))(
    '%s: its arguments run the shipped suite against a model on loopback, and the shipped gate rules pass it',
    async (_name, job) => {
      const args = containerOf(job).args ?? [];
      const model = argAfter(args, '--model');
      const served = await startSuiteModel(
        join('suites', suiteOf(job)),
        model,
        'good',
        argAfter(args, '--model-version'),
      );
      try {
        const events = join(scratch, nameOf(job), 'evaluation.ndjson');
        // The CronJob's own arguments, but for where the model, the suite and the event are, and no --send.
        const kept = args.filter((a) => a !== '--send');
        const local = kept.map((a, i) => {
          const flag = kept[i - 1];
          if (flag === '--endpoint') return served.url.href;
          if (flag === '--out') return events;
          if (flag === '--suite') return a.replace(/^\/app\//, `${out}/`);
          return a;
        });
        expect(local).toContain(join(out, 'suites', suiteOf(job)));
        await chargeback(local);
        const gate = await chargeback([
          'gate',
          '--evaluations',
          events,
          '--rules',
          'rules/quality-gates.json',
          '--model',
          model,
        ]);
        expect(gate.stdout).toMatch(/^PASS\b/);
      } finally {
        await served.stop();
      }
    },
    60_000,
  );
});
