/**
 * Packages one deployable into a folder ready to ship, offline, from this repository's node_modules:
 *
 *   node --import tsx scripts/package.ts functions|sidecar|cli [--out DIR]   (default out/NAME)
 *
 * DIR receives dist/ (only the deployable's compiled graph, with source maps), package.json and
 * package-lock.json naming only its runtime packages, node_modules/ holding exactly those and
 * what they need, and the deployable's extra files and folders (the Function App's host.json, the
 * command line's prices/, rules/ and suites/). It refuses to package when the compiled code imports
 * a package the deployable does not declare, or declares one it never imports
 * (scripts/deployables.ts).
 */
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import {
  compileDeployable,
  DEPLOYABLES,
  deployableManifests,
  packageDrift,
  type DeployableName,
} from './deployables.js';

export function packageDeployable(name: DeployableName, out: string, root = process.cwd()): void {
  const compiled = compileDeployable(name, root);
  const drift = packageDrift(name, compiled);
  if (drift.missing.length > 0 || drift.unused.length > 0) {
    throw new Error(
      `${name}: the compiled code imports [${drift.missing.join(', ')}] that scripts/deployables.ts does not ` +
        `declare, and declares [${drift.unused.join(', ')}] that it never imports`,
    );
  }
  const { packageJson, lockfile, paths } = deployableManifests(name, root);
  rmSync(out, { recursive: true, force: true });
  for (const [file, text] of compiled.outputs) {
    mkdirSync(dirname(join(out, 'dist', file)), { recursive: true });
    writeFileSync(join(out, 'dist', file), text);
  }
  writeFileSync(join(out, 'package.json'), `${JSON.stringify(packageJson, null, 2)}\n`);
  writeFileSync(join(out, 'package-lock.json'), `${JSON.stringify(lockfile, null, 2)}\n`);
  for (const file of DEPLOYABLES[name].extraFiles) {
    cpSync(resolve(root, file), join(out, file), { recursive: true });
  }
  for (const path of paths) {
    const from = resolve(root, path);
    if (!existsSync(from)) throw new Error(`${path} is in package-lock.json but not installed: run npm ci`);
    // A package's own node_modules/ holds packages of their own entries in `paths`, copied as such.
    cpSync(from, join(out, path), {
      recursive: true,
      filter: (source) => source === from || basename(source) !== 'node_modules',
    });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' } } });
  const name = positionals[0];
  if (name === undefined || !(name in DEPLOYABLES) || positionals.length > 1) {
    console.error(`usage: package.ts ${Object.keys(DEPLOYABLES).join('|')} [--out DIR]`);
    process.exit(2);
  }
  const deployable = name as DeployableName;
  const out = resolve(values.out ?? join('out', deployable));
  packageDeployable(deployable, out);
  console.log(`packaged ${deployable} in ${out}`);
}
