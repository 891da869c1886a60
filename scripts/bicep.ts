/**
 * The Bicep CLI, from NuGet (`Azure.Bicep.CommandLine.linux-x64`, pinned in tools/bicep/bicep.csproj),
 * restored into .tools/nuget/ on first use and reused after. `bicepPath()` installs it if needed and
 * returns the executable; `node --import tsx scripts/bicep.ts <args>` runs it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BICEP_VERSION = '0.49.2';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGES = join(ROOT, '.tools', 'nuget');

export function bicepPath(): string {
  const bicep = join(PACKAGES, 'azure.bicep.commandline.linux-x64', BICEP_VERSION, 'tools', 'bicep');
  if (!existsSync(bicep)) {
    execFileSync(
      'dotnet',
      ['restore', join(ROOT, 'tools', 'bicep', 'bicep.csproj'), '--packages', PACKAGES],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1' },
      },
    );
    // NuGet does not keep the execute bit.
    chmodSync(bicep, 0o755);
  }
  return bicep;
}

/** The environments with a parameters file and a committed snapshot in bicep/. */
export const ENVIRONMENTS = ['dev', 'prod'] as const;

/**
 * The fixed deployment context the committed snapshots are made in (ids of zeros, a named resource
 * group, East US), so that a snapshot changes only when the templates or parameters do.
 */
export function snapshotArgs(environment: string, mode: 'overwrite' | 'validate'): string[] {
  const zeros = '00000000-0000-0000-0000-000000000000';
  return [
    'snapshot',
    `${environment}.bicepparam`,
    '--mode',
    mode,
    '--tenant-id',
    zeros,
    '--subscription-id',
    zeros,
    '--resource-group',
    `rg-chargeback-${environment}`,
    '--location',
    'eastus',
    '--deployment-name',
    'chargeback',
  ];
}

/** `node --import tsx scripts/bicep.ts snapshots`: writes bicep/<env>.snapshot.json for every environment. */
function writeSnapshots(): number {
  for (const environment of ENVIRONMENTS) {
    const result = spawnSync(bicepPath(), snapshotArgs(environment, 'overwrite'), {
      cwd: join(ROOT, 'bicep'),
      stdio: 'inherit',
    });
    if (result.status !== 0) return result.status ?? 1;
    // The CLI writes the outputs in no stable order; sorted, a pull request's diff shows only changes.
    const file = join(ROOT, 'bicep', `${environment}.snapshot.json`);
    const snapshot = JSON.parse(readFileSync(file, 'utf8')) as { outputs?: Record<string, unknown> };
    if (snapshot.outputs !== undefined)
      snapshot.outputs = Object.fromEntries(
        Object.entries(snapshot.outputs).sort(([a], [b]) => a.localeCompare(b)),
      );
    writeFileSync(file, `${JSON.stringify(snapshot, null, 2)}\n`);
    process.stdout.write(`wrote bicep/${environment}.snapshot.json\n`);
  }
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv[2] === 'snapshots') process.exit(writeSnapshots());
  const result = spawnSync(bicepPath(), process.argv.slice(2), { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
