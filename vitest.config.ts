import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The loopback HTTPS stand-ins (dev/aml-stand-in.ts) serve dev/tls's test certificate, trusted only
 * through NODE_EXTRA_CA_CERTS (dev/tls/README.md); TLS verification stays on. Node reads the
 * variable only when a process starts, so it is set here, before vitest forks the workers that
 * inherit it. It names one file: when it already names one (a system bundle), the workers get a
 * copy of that file with the test CA appended.
 */
function trustTestCa(): void {
  const ca = fileURLToPath(new URL('./dev/tls/ca.pem', import.meta.url));
  const current = process.env.NODE_EXTRA_CA_CERTS;
  const existing = current === undefined || current === '' || current === ca ? undefined : readable(current);
  if (existing === undefined) {
    process.env.NODE_EXTRA_CA_CERTS = ca; // Node would only have warned about an unreadable one
    return;
  }
  const bundle = `${existing.trimEnd()}\n${readFileSync(ca, 'utf8')}`;
  const path = join(
    tmpdir(),
    `gpu-chargeback-test-ca-${createHash('sha256').update(bundle).digest('hex').slice(0, 16)}.pem`,
  );
  writeFileSync(`${path}.${process.pid}`, bundle);
  renameSync(`${path}.${process.pid}`, path); // whole or not at all, should two runs write it at once
  process.env.NODE_EXTRA_CA_CERTS = path;
}

function readable(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

trustTestCa();

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One Azurite, started from node_modules for the whole run; tests that restart it start their own.
    globalSetup: ['test/helpers/azurite-setup.ts'],
  },
});
