import type { TestProject } from 'vitest/node';
import { startAzurite } from '../../src/local/azurite.js';

declare module 'vitest' {
  export interface ProvidedContext {
    azurite: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const azurite = await startAzurite();
  project.provide('azurite', azurite.connectionString);
  return () => azurite.stop();
}
