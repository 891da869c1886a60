/**
 * The committed Bicep snapshots (bicep/<env>.snapshot.json, written by `npm run bicep:snapshot` and
 * held current by bicep.test.ts), and the ways the agreement tests read them. A snapshot lists every
 * resource the deployment would create, modules flattened, with what can be evaluated before
 * deployment evaluated; references to deployed resources stay as ARM expressions.
 */
import { readFileSync } from 'node:fs';

export interface Resource {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly location?: string;
  readonly kind?: string;
  readonly sku?: Record<string, unknown>;
  readonly identity?: Record<string, unknown>;
  readonly properties?: Record<string, unknown>;
}

export interface Snapshot {
  readonly predictedResources: Resource[];
  /** The deployment's outputs, as values or ARM expressions. */
  readonly outputs?: Record<string, unknown>;
}

export function loadSnapshot(path: string): Snapshot {
  return JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
}

export const snapshots = {
  dev: loadSnapshot('bicep/dev.snapshot.json'),
  prod: loadSnapshot('bicep/prod.snapshot.json'),
};

export function ofType(snapshot: Snapshot, type: string): Resource[] {
  return snapshot.predictedResources.filter((r) => r.type === type);
}

export function one(snapshot: Snapshot, type: string): Resource {
  const found = ofType(snapshot, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as Resource;
}

/** The last segment of a resource's name: `ns/usage/chargeback` -> `chargeback`. */
export function leaf(resource: Resource): string {
  return resource.name.split('/').at(-1) ?? resource.name;
}

export interface AppSetting {
  readonly name: string;
  readonly value: string;
}

export function appSettingsOf(snapshot: Snapshot): AppSetting[] {
  const site = one(snapshot, 'Microsoft.Web/sites');
  return (site.properties as { siteConfig: { appSettings: AppSetting[] } }).siteConfig.appSettings;
}
