/**
 * Debian's Chromium for the browser tests (the report page opened headless): `/usr/bin/chromium`,
 * installed from Debian's packages with apt on first use when missing (no browser download from
 * anywhere else; Playwright drives it through playwright-core, which downloads nothing).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a closed network: without the background ones Chromium keeps dialling Google. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumPath(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const root = process.getuid?.() === 0;
  const apt = (args: string[]): void => {
    execFileSync(root ? 'apt-get' : 'sudo', root ? args : ['-n', 'apt-get', ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  const install = ['install', '-y', '--no-install-recommends', 'chromium'];
  try {
    apt(install);
  } catch {
    apt(['update']); // a fresh machine may have no package lists yet
    apt(install);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium, but ${CHROMIUM} is not there`);
  return CHROMIUM;
}
