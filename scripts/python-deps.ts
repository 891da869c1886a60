/**
 * Debian's Python packages for the retraining job's tests (`training/tests`): PyTorch (CPU),
 * pytest and PyYAML, installed from Debian's packages with apt on first use when missing. The
 * machine has no Python package index; `/usr/bin/python3` is Debian's own interpreter, which those
 * packages install into.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PYTHON = '/usr/bin/python3';

/** Debian package of each module the job and its tests import. */
export const PYTHON_PACKAGES: Readonly<Record<string, string>> = {
  torch: 'python3-torch',
  pytest: 'python3-pytest',
  yaml: 'python3-yaml',
};

function missingModules(): string[] {
  if (!existsSync(PYTHON)) return Object.keys(PYTHON_PACKAGES);
  return Object.keys(PYTHON_PACKAGES).filter((module) => {
    try {
      execFileSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

/** `/usr/bin/python3` with torch, pytest and yaml importable, installing what is missing. */
export function pythonWithDeps(): string {
  const missing = missingModules();
  if (missing.length === 0) return PYTHON;
  const root = process.getuid?.() === 0;
  const apt = (args: string[]): void => {
    execFileSync(root ? 'apt-get' : 'sudo', root ? args : ['-n', 'apt-get', ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  const install = [
    'install',
    '-y',
    '--no-install-recommends',
    'python3',
    ...missing.map((m) => PYTHON_PACKAGES[m] ?? m),
  ];
  try {
    apt(install);
  } catch {
    apt(['update']); // a fresh machine may have no package lists yet
    apt(install);
  }
  const still = missingModules();
  if (still.length > 0)
    throw new Error(`apt-get installed the Python packages, but ${PYTHON} cannot import ${still.join(', ')}`);
  return PYTHON;
}
