/**
 * The three deployables and what each ships. The Function App, the sidecar image and the command
 * line's image are built from this one repository, but each is compiled from its own entry points (a tsconfig whose `include`
 * or `files` names only them; their imports are followed and nothing else is compiled) and carries
 * only the packages its compiled code imports. The lists below are declared so a reviewer sees
 * what each deployable depends on; `compileDeployable` checks them against the imports of the
 * emitted JavaScript, and the packaging refuses to run when they differ.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';

export interface Deployable {
  /** Compiles the entry points and the modules they import, nothing else. */
  readonly tsconfig: string;
  /** The runtime packages the compiled code imports, exactly. */
  readonly packages: readonly string[];
  /** package.json `main`: the Functions host loads every registration it matches. */
  readonly main: string;
  /** Files and folders copied beside dist/ as they are. */
  readonly extraFiles: readonly string[];
}

export const DEPLOYABLES = {
  functions: {
    tsconfig: 'tsconfig.functions.json',
    packages: [
      '@azure/arm-machinelearning',
      '@azure/data-tables',
      '@azure/functions',
      '@azure/identity',
      '@azure/storage-blob',
      '@azure/storage-queue',
      '@date-fns/utc',
      'date-fns',
      'papaparse',
      'zod',
    ],
    main: 'dist/functions/*.js',
    // The settings' default paths (PRICE_CARD_PATH, DRIFT_RULES_PATH, QUALITY_RULES_PATH, RETRAINING_CONFIG_PATH) are relative to the app's root.
    extraFiles: [
      'host.json',
      'prices/azure-a100.json',
      'rules/drift-rules.json',
      'rules/quality-gates.json',
      'rules/retraining.json',
    ],
  },
  sidecar: {
    tsconfig: 'tsconfig.sidecar.json',
    packages: [
      '@azure/event-hubs',
      '@azure/identity',
      '@date-fns/utc',
      'date-fns',
      'prom-client',
      'undici',
      'zod',
    ],
    main: 'dist/src/cli/sidecar-entry.js',
    extraFiles: [],
  },
  cli: {
    // The `chargeback` command line (src/cli/entry.ts), and the report's worker thread, which
    // report-units.ts starts by URL rather than imports, so the import graph alone would miss it.
    tsconfig: 'tsconfig.cli.json',
    packages: [
      '@azure/arm-machinelearning',
      '@azure/data-tables',
      '@azure/event-hubs',
      '@azure/identity',
      '@azure/storage-blob',
      '@azure/storage-queue',
      '@date-fns/utc',
      'date-fns',
      'papaparse',
      'prom-client',
      'undici',
      'yaml',
      'zod',
    ],
    main: 'dist/src/cli/entry.js',
    // The defaults (--prices, the drift, gate and retraining rules) are relative to the package
    // root; the CronJobs run `evaluate --suite /app/suites/<name>`.
    extraFiles: ['prices', 'rules', 'suites'],
  },
} as const satisfies Record<string, Deployable>;

export type DeployableName = keyof typeof DEPLOYABLES;

export interface Compiled {
  /** Source files compiled, relative to the repository root, sorted. */
  readonly sources: readonly string[];
  /** Emitted files (JavaScript and source maps) by path relative to the output's root. */
  readonly outputs: ReadonlyMap<string, string>;
  /** Packages the emitted JavaScript imports (Node built-ins aside), sorted. */
  readonly packages: readonly string[];
}

/** `@azure/x/sub` -> `@azure/x`, `yaml/util` -> `yaml`. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

/** The source a relative specifier names: NodeNext writes `./x.js` for the source `./x.ts`. */
function sourceOf(from: string, specifier: string): string {
  const target = resolve(dirname(from), specifier);
  const source = target.replace(/\.js$/, '.ts');
  if (existsSync(source)) return source;
  if (existsSync(target)) return target;
  throw new Error(`${relative(process.cwd(), from)} imports ${specifier}, which does not exist`);
}

/**
 * Compiles a deployable in memory: its tsconfig's files, and every file they import, transitively.
 * The configuration has `isolatedModules` and `verbatimModuleSyntax`, so each file compiles on its
 * own to exactly what `tsc` emits, and the graph is the one `tsc -p` would compile (type-only
 * imports included). Types are not checked here: `npm run package:*` runs `tsc -p <its tsconfig>
 * --noEmit` first, and `npm run typecheck` checks the whole repository.
 */
export function compileDeployable(name: DeployableName, root = process.cwd()): Compiled {
  const configPath = resolve(root, DEPLOYABLES[name].tsconfig);
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (parsed === undefined || parsed.fileNames.length === 0) throw new Error(`${configPath} names no files`);
  const { options } = parsed;
  const outDir = options.outDir ?? root;
  const rootDir = options.rootDir ?? root;
  const outputs = new Map<string, string>();
  const packages = new Set<string>();
  const seen = new Set<string>();
  const queue = parsed.fileNames.map((f) => resolve(f));
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (fileName.startsWith('.')) queue.push(sourceOf(file, fileName));
    }
    const js = relative(outDir, resolve(outDir, relative(rootDir, file))).replace(/\.ts$/, '.js');
    const {
      outputText,
      sourceMapText,
      diagnostics = [],
    } = ts.transpileModule(text, {
      // Every file here is an ES module (package.json `type: module`), which is what NodeNext emits
      // for it; on its own, the transpiler cannot look that up and would emit CommonJS.
      compilerOptions: {
        ...options,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
      },
      fileName: file,
      reportDiagnostics: true,
    });
    if (diagnostics.length > 0) {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostics[0]?.messageText, '\n'));
    }
    outputs.set(js, outputText);
    if (sourceMapText !== undefined) outputs.set(`${js}.map`, sourceMapText);
    // The emitted code, not the source: an `import type` leaves nothing to install.
    for (const { fileName } of ts.preProcessFile(outputText, true, true).importedFiles) {
      if (!fileName.startsWith('.') && !isBuiltin(fileName)) packages.add(packageOf(fileName));
    }
  }
  const sources = [...seen].map((f) => relative(root, f)).sort();
  return { sources, outputs, packages: [...packages].sort() };
}

/** What the declared list misses and what it names in vain; both empty when they agree. */
export function packageDrift(
  name: DeployableName,
  compiled: Compiled,
): { missing: string[]; unused: string[] } {
  const declared: readonly string[] = DEPLOYABLES[name].packages;
  return {
    missing: compiled.packages.filter((p) => !declared.includes(p)),
    unused: declared.filter((p) => !compiled.packages.includes(p)),
  };
}

// ---------------------------------------------------------------------------------------------
// The lockfile, cut down to one deployable's runtime packages, so `npm ci` in its folder installs
// exactly the versions this repository was tested with, and nothing else.

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  [field: string]: unknown;
}
export interface Lockfile {
  name: string;
  version: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

export function readLockfile(root = process.cwd()): Lockfile {
  return JSON.parse(readFileSync(resolve(root, 'package-lock.json'), 'utf8')) as Lockfile;
}

/** The folder holding `from`'s node_modules/ parent: `node_modules/a/node_modules/b` -> `node_modules/a`. */
function parentOf(path: string): string | undefined {
  if (path === '') return undefined;
  const at = path.lastIndexOf('/node_modules/');
  return at < 0 ? '' : path.slice(0, at);
}

/** Where Node finds `name` from the package at `from`: the nearest node_modules/ going up. */
function locate(lock: Lockfile, from: string, name: string): string | undefined {
  for (let dir: string | undefined = from; dir !== undefined; dir = parentOf(dir)) {
    const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    if (lock.packages[candidate] !== undefined) return candidate;
  }
  return undefined;
}

/** The lockfile paths of `roots` and everything they need at run time, sorted. */
export function runtimeClosure(lock: Lockfile, roots: readonly string[]): string[] {
  const kept = new Set<string>();
  const visit = (from: string, name: string, optional: boolean): void => {
    const path = locate(lock, from, name);
    if (path === undefined) {
      // An optional dependency for another platform, or an optional peer nobody installed.
      if (optional) return;
      throw new Error(`package-lock.json has no ${name} for ${from === '' ? 'the root' : from}`);
    }
    if (kept.has(path)) return;
    kept.add(path);
    const entry = lock.packages[path] ?? {};
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(path, dep, false);
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) visit(path, dep, true);
    for (const dep of Object.keys(entry.peerDependencies ?? {})) {
      visit(path, dep, entry.peerDependenciesMeta?.[dep]?.optional === true);
    }
  };
  for (const name of roots) visit('', name, false);
  return [...kept].sort();
}

/** package.json and package-lock.json of a deployable: its packages at this repository's versions. */
export function deployableManifests(
  name: DeployableName,
  root = process.cwd(),
): { packageJson: Record<string, unknown>; lockfile: Lockfile; paths: string[] } {
  const own = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    license?: string;
    engines?: Record<string, string>;
    dependencies?: Record<string, string>;
  };
  const { packages, main } = DEPLOYABLES[name];
  const dependencies = Object.fromEntries(
    packages.map((p) => {
      const version = own.dependencies?.[p];
      if (version === undefined) throw new Error(`${p} is not a dependency in package.json`);
      return [p, version];
    }),
  );
  const packageJson = {
    name: `${own.name}-${name}`,
    version: own.version,
    private: true,
    license: own.license,
    type: 'module',
    main,
    engines: own.engines,
    dependencies,
  };
  const lock = readLockfile(root);
  const paths = runtimeClosure(lock, packages);
  const entries = paths.map((path): [string, LockEntry] => {
    // These are production dependencies of the deployable, whatever role they play here.
    const { dev: _dev, devOptional: _devOptional, ...entry } = lock.packages[path] ?? {};
    return [path, entry];
  });
  const lockfile: Lockfile = {
    name: packageJson.name,
    version: own.version,
    lockfileVersion: lock.lockfileVersion,
    requires: true,
    packages: {
      '': {
        name: packageJson.name,
        version: own.version,
        license: own.license,
        dependencies,
        engines: own.engines,
      },
      ...Object.fromEntries(entries),
    },
  };
  return { packageJson, lockfile, paths };
}
