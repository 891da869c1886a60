import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startAzurite } from '../../dev/azurite.js';

declare module 'vitest' {
  export interface ProvidedContext {
    azurite: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Every temporary folder the tests make goes under one folder of this run, removed at its end
  // (the test workers are started after this and inherit TMPDIR).
  const scratch = mkdtempSync(join(tmpdir(), 'chargeback-tests-'));
  process.env.TMPDIR = scratch;
  const azurite = await startAzurite();
  project.provide('azurite', azurite.connectionString);
  return async () => {
    await azurite.stop();
    rmSync(scratch, { recursive: true, force: true });
  };
}
