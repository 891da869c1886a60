import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compileDeployable,
  DEPLOYABLES,
  packageDrift,
  readLockfile,
  runtimeClosure,
  type Compiled,
} from '../../scripts/deployables.js';
import { SIDECAR_HELP } from '../../src/cli/sidecar-command.js';
import { dockerCopiedSources } from './manifests.js';

const run = promisify(execFile);
const SIDECAR_ONLY = ['@azure/event-hubs', 'prom-client', 'undici'];
const own = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };

let sidecar: Compiled;
let functions: Compiled;
// A package folder outside the repository: a package missing from it cannot be found in ours.
const scratch = mkdtempSync(join(tmpdir(), 'deployables-'));
beforeAll(() => {
  sidecar = compileDeployable('sidecar');
  functions = compileDeployable('functions');
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('the two deployables: each compiles only its own graph and ships only its own packages', () => {
  it('the sidecar compiles from its entry point: no Functions, ledger, use case, adapter or report code', () => {
    expect(sidecar.sources).toEqual(
      expect.arrayContaining(['src/cli/sidecar-entry.ts', 'src/sidecar/sidecar.ts']),
    );
    for (const file of sidecar.sources) {
      expect(file).toMatch(/^src\/(sidecar|domain|cli)\//);
      expect(file).not.toMatch(/^src\/domain\/(report|chargeback|allocation|prices)/);
    }
    expect(sidecar.sources.filter((f) => f.startsWith('src/cli/'))).toEqual([
      'src/cli/args.ts',
      'src/cli/sidecar-command.ts',
      'src/cli/sidecar-entry.ts',
      'src/cli/usage-error.ts',
    ]);
    expect([...sidecar.outputs.keys()]).toContain(DEPLOYABLES.sidecar.main.replace(/^dist\//, ''));
    // The image copies each of these (sidecar-image.test.ts checks the Dockerfile itself).
    const copied = dockerCopiedSources();
    for (const file of sidecar.sources)
      expect(
        copied.some((dir) => file.startsWith(`${dir}/`)),
        file,
      ).toBe(true);
  });

  it('the sidecar declares exactly the packages its compiled code imports', () => {
    expect(sidecar.packages).toEqual([...DEPLOYABLES.sidecar.packages].sort());
    expect(packageDrift('sidecar', sidecar)).toEqual({ missing: [], unused: [] });
  });

  it('the Function App compiles functions/ and what they import: no sidecar, CLI, simulator, dev or bench code', () => {
    const registrations = readdirSync('functions').filter((f) => f.endsWith('.ts'));
    expect(functions.sources).toEqual(expect.arrayContaining(registrations.map((f) => `functions/${f}`)));
    for (const file of functions.sources) {
      expect(file).toMatch(/^(functions\/|src\/(domain|ports|usecases|adapters|composition)\/)/);
    }
    for (const registration of registrations) {
      expect([...functions.outputs.keys()]).toContain(`functions/${registration.replace(/\.ts$/, '.js')}`);
    }
  });

  it('the Function App declares exactly its imports, and none of its packages or their dependencies is the sidecar’s', () => {
    expect(functions.packages).toEqual([...DEPLOYABLES.functions.packages].sort());
    expect(packageDrift('functions', functions)).toEqual({ missing: [], unused: [] });
    for (const name of SIDECAR_ONLY) {
      expect(sidecar.packages).toContain(name);
      expect(functions.packages).not.toContain(name);
    }
    const shipped = runtimeClosure(readLockfile(), DEPLOYABLES.functions.packages);
    for (const name of [...SIDECAR_ONLY, 'rhea', 'typescript', 'vitest']) {
      expect(shipped).not.toContain(`node_modules/${name}`);
    }
  });

  it('every declared package is a runtime dependency in package.json', () => {
    for (const name of [...DEPLOYABLES.functions.packages, ...DEPLOYABLES.sidecar.packages]) {
      expect(own.dependencies[name], name).toBeDefined();
    }
  });

  it('drift between the declared list and the compiled imports is named both ways', () => {
    const compiled: Compiled = { sources: [], outputs: new Map(), packages: ['left-pad', 'undici', 'zod'] };
    expect(packageDrift('sidecar', compiled)).toEqual({
      missing: ['left-pad'],
      unused: ['@azure/event-hubs', '@azure/identity', '@date-fns/utc', 'date-fns', 'prom-client'],
    });
  });
});

describe('packaging, offline from node_modules', () => {
  it('npm run package:functions makes a Function App folder that loads with its own node_modules alone', async () => {
    const out = join(scratch, 'functions');
    await run('npm', ['run', 'package:functions', '--', '--out', out]);
    const manifest = JSON.parse(readFileSync(join(out, 'package.json'), 'utf8')) as {
      main: string;
      dependencies: Record<string, string>;
    };
    expect(manifest.main).toBe('dist/functions/*.js');
    expect(Object.keys(manifest.dependencies).sort()).toEqual([...DEPLOYABLES.functions.packages].sort());
    for (const [name, version] of Object.entries(manifest.dependencies)) {
      expect(version).toBe(own.dependencies[name]);
      expect(existsSync(join(out, 'node_modules', name, 'package.json')), name).toBe(true);
    }
    for (const name of SIDECAR_ONLY) expect(existsSync(join(out, 'node_modules', name)), name).toBe(false);
    expect(readFileSync(join(out, 'host.json'), 'utf8')).toBe(readFileSync('host.json', 'utf8'));
    // The default PRICE_CARD_PATH and DRIFT_RULES_PATH name these, relative to the app's root.
    for (const file of ['prices/azure-a100.json', 'rules/drift-rules.json'])
      expect(readFileSync(join(out, file), 'utf8'), file).toBe(readFileSync(file, 'utf8'));
    const load = readdirSync(join(out, 'dist', 'functions'))
      .filter((f) => f.endsWith('.js'))
      .map((f) => `await import(${JSON.stringify(`./dist/functions/${f}`)});`)
      .join(' ');
    const loaded = await run(
      process.execPath,
      ['--input-type=module', '-e', `${load} console.log('loaded');`],
      {
        cwd: out,
      },
    );
    expect(loaded.stdout).toBe('loaded\n');
    // package.json, package-lock.json and node_modules agree, so `npm ci` there installs the same.
    await run('npm', ['ls', '--all', '--omit=dev'], { cwd: out });
  }, 180_000);

  it('the sidecar package runs `chargeback sidecar` with its own node_modules alone', async () => {
    const out = join(scratch, 'sidecar');
    await run(process.execPath, ['--import', 'tsx', 'scripts/package.ts', 'sidecar', '--out', out]);
    const sidecarPackages: readonly string[] = DEPLOYABLES.sidecar.packages;
    for (const name of DEPLOYABLES.functions.packages.filter((p) => !sidecarPackages.includes(p))) {
      expect(existsSync(join(out, 'node_modules', name)), name).toBe(false);
    }
    const help = await run(process.execPath, [DEPLOYABLES.sidecar.main, '--help'], { cwd: out });
    expect(help.stdout).toBe(`${SIDECAR_HELP}\n`);
    await run('npm', ['ls', '--all', '--omit=dev'], { cwd: out });
  }, 120_000);
});
