/**
 * The manifests of vllm-deploy/, loaded once, and the ways the deploy tests read them: every YAML
 * document of every file, the two Deployments with their vLLM and sidecar containers, and the
 * sidecar's settings exactly as its own loader reads them from each pod's environment.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IContainer, IPodSpec, IProbe } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { loadSidecarSettings, type SidecarSettings } from '../../src/sidecar/settings.js';

// ---------------------------------------------------------------------------------------------
// Loading: every YAML file of vllm-deploy/, every document in it.

export const DIR = 'vllm-deploy';
export const FILES = readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export const loaded: { file: string; doc: K8sObject }[] = FILES.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: d.toJS() as K8sObject };
  }),
);
export const objects = loaded.filter((o) => o.doc.kind !== 'Kustomization');
export const ofKind = <T>(kind: string): T[] =>
  objects.filter((o) => o.doc.kind === kind).map((o) => o.doc as unknown as T);
export const nameOf = (o: { metadata?: { name?: string } }): string => o.metadata?.name ?? '';

// ---------------------------------------------------------------------------------------------
// The two Deployments, their containers, and the sidecar's settings as the code reads them.

export const deployments = ofKind<IDeployment>('Deployment');
export const podSpecOf = (d: IDeployment): IPodSpec => {
  const spec = d.spec?.template.spec;
  if (spec === undefined) throw new Error(`${nameOf(d)}: no pod spec`);
  return spec;
};
export const containerOf = (d: IDeployment, name: string): IContainer => {
  const c = podSpecOf(d).containers.find((x) => x.name === name);
  if (c === undefined) throw new Error(`${nameOf(d)}: no container ${name}`);
  return c;
};
export const sidecarOf = (d: IDeployment): IContainer => containerOf(d, 'chargeback-sidecar');
export const vllmOf = (d: IDeployment): IContainer => containerOf(d, 'vllm');
export const podLabelsOf = (d: IDeployment): Record<string, string> =>
  d.spec?.template.metadata?.labels ?? {};
export const envValue = (c: IContainer, name: string): string | undefined =>
  c.env?.find((e) => e.name === name)?.value;

export const PACKAGE_VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string })
  .version;

/** What the Downward API would give: a stand-in value per field path. */
export const DOWNWARD: Record<string, string> = {
  'metadata.name': 'vllm-pod-7d9c-x2k4q',
  'spec.nodeName': 'aks-a100-0',
};
export const envOf = (c: IContainer): Record<string, string> =>
  Object.fromEntries(
    (c.env ?? []).map((e) => {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      return [e.name, e.value ?? (field === undefined ? 'from-a-secret' : (DOWNWARD[field] ?? ''))];
    }),
  );
/** The sidecar's settings exactly as `chargeback sidecar` would load them in this pod. */
export const settingsOf = (d: IDeployment): SidecarSettings => loadSidecarSettings({}, envOf(sidecarOf(d)));

/** Value after a flag in vLLM's argument list (`--port 8000`), or undefined. */
export const argAfter = (args: readonly string[], flag: string): string | undefined => {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
};
export const httpGetOf = (probe: IProbe | undefined): { path?: string; port?: number | string } | undefined =>
  probe?.httpGet;
/** A container port by number or by name, as a number. */
export const resolvePort = (d: IDeployment, port: number | string | undefined): number | undefined =>
  typeof port === 'number'
    ? port
    : podSpecOf(d)
        .containers.flatMap((c) => c.ports ?? [])
        .find((p) => p.name === port)?.containerPort;
export const selects = (
  selector: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);

export const byName = (name: string): IDeployment => {
  const d = deployments.find((x) => nameOf(x) === name);
  if (d === undefined) throw new Error(`no Deployment ${name}`);
  return d;
};

/** The HTTP status of GET path on a loopback port. */
export function statusOf(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

/** An image's Dockerfile (the sidecar's by default), as (instruction, arguments) pairs without comments. */
export function dockerInstructions(name: string, dockerfile = 'sidecar.Dockerfile'): string[] {
  return readFileSync(join(DIR, dockerfile), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .filter((l) => l.startsWith(`${name} `))
    .map((l) => l.slice(name.length + 1).trim());
}

/** The build-context paths the Dockerfile copies from the repository (not from an earlier stage). */
export function dockerCopiedSources(dockerfile = 'sidecar.Dockerfile'): string[] {
  return dockerInstructions('COPY', dockerfile)
    .filter((c) => !c.startsWith('--from'))
    .flatMap((c) => c.split(/\s+/).slice(0, -1));
}
