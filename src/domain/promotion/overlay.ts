/**
 * Kustomize overlays for a registered model version (contracts.md §16), rendered as files and never
 * applied here:
 *
 * - the canary: a copy of the serving Deployment running the candidate beside the current one, one
 *   replica, under its own `app.kubernetes.io/name` (`<base>-canary`) so that no client Service
 *   selects its pods, and its own ClusterIP Service for the harness and the replay;
 * - the promotion: the base kustomization with a patch that makes the candidate the version the
 *   serving Deployment runs (for a GitOps pull request, or `kubectl apply -k` when asked).
 *
 * Pure: the base Deployment comes in as parsed YAML, and each file goes out as the object to write
 * (YAML, by the caller) with a comment line for its head.
 */

export interface ModelVersionRef {
  readonly model: string;
  readonly version: string;
  /** `azureml://jobs/<job>/outputs/<output>`, as registered. */
  readonly modelUri: string;
}

type Json = Record<string, unknown>;

/** One file of an overlay: its comment line and the object it holds. */
export interface OverlayFile {
  readonly comment: string;
  readonly content: Readonly<Record<string, unknown>>;
}

const VERSION_LABEL = 'chargeback/model-version';
const TRACK_LABEL = 'chargeback/track';

/** Where the candidate's weights are read inside the pod (the model cache volume at /models). */
export function weightsPath(ref: ModelVersionRef): string {
  return `/models/registry/${ref.model}/${ref.version}`;
}

/** A Kubernetes name: lower case letters, digits and `-`, at most 63 characters. */
function dnsLabel(text: string): string {
  const label = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  if (label === '') throw new Error(`cannot make a Kubernetes name of ${JSON.stringify(text)}`);
  return label;
}

function record(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`the base Deployment has no ${what}`);
  return value as Json;
}

function vllmContainer(spec: Json): Json {
  const containers = record(record(spec.template, 'spec.template').spec, 'spec.template.spec').containers;
  const vllm = Array.isArray(containers) ? (containers as Json[]).find((c) => c.name === 'vllm') : undefined;
  if (vllm === undefined) throw new Error('the base Deployment has no container named vllm');
  return vllm;
}

function setEnv(container: Json, name: string, value: string): void {
  const env = Array.isArray(container.env) ? (container.env as Json[]) : [];
  const existing = env.find((e) => e.name === name);
  if (existing === undefined) env.push({ name, value });
  else {
    delete existing.valueFrom;
    existing.value = value;
  }
  container.env = env;
}

/** The canary overlay's files (name → text) for the candidate, from the serving Deployment. */
export function renderCanary(base: unknown, ref: ModelVersionRef): Record<string, OverlayFile> {
  const deployment = structuredClone(record(base, 'object'));
  if (deployment.kind !== 'Deployment') throw new Error('the base is not a Deployment');
  const metadata = record(deployment.metadata, 'metadata');
  const baseName = typeof metadata.name === 'string' ? metadata.name : '';
  if (baseName === '') throw new Error('the base Deployment has no metadata.name');
  const app = dnsLabel(`${baseName}-canary`);
  const name = dnsLabel(`${baseName}-canary-v${ref.version}`);
  const labels = {
    ...(record(metadata.labels ?? {}, 'metadata.labels') as Record<string, string>),
    'app.kubernetes.io/name': app,
    [TRACK_LABEL]: 'canary',
    [VERSION_LABEL]: dnsLabel(ref.version),
  };
  const spec = record(deployment.spec, 'spec');
  const template = record(spec.template, 'spec.template');
  const templateMeta = record(template.metadata ?? {}, 'spec.template.metadata');
  deployment.metadata = { ...metadata, name, labels };
  spec.replicas = 1;
  spec.selector = { matchLabels: { 'app.kubernetes.io/name': app, [VERSION_LABEL]: dnsLabel(ref.version) } };
  template.metadata = {
    ...templateMeta,
    labels: {
      ...(record(templateMeta.labels ?? {}, 'template labels') as Record<string, string>),
      ...labels,
    },
  };
  pointAt(vllmContainer(spec), ref);
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels },
    spec: {
      type: 'ClusterIP',
      selector: { 'app.kubernetes.io/name': app, [VERSION_LABEL]: dnsLabel(ref.version) },
      ports: [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }],
    },
  };
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    ...(typeof metadata.namespace === 'string' ? { namespace: metadata.namespace } : {}),
    resources: ['deployment.yaml', 'service.yaml'],
  };
  return {
    'kustomization.yaml': file(`Canary of ${ref.model} version ${ref.version}`, kustomization),
    'deployment.yaml': file(`Canary of ${ref.model} version ${ref.version} (${ref.modelUri})`, deployment),
    'service.yaml': file(`The canary's own Service, for the harness and the replay`, service),
  };
}

/** The vLLM container serving the version: its weights path and served name kept, the version in its env. */
function pointAt(vllm: Json, ref: ModelVersionRef): void {
  const args = Array.isArray(vllm.args) ? [...(vllm.args as unknown[])] : [];
  if (args.length === 0 || typeof args[0] !== 'string' || args[0].startsWith('-'))
    throw new Error('the vllm container has no model as its first argument');
  args[0] = weightsPath(ref);
  vllm.args = args;
  setEnv(vllm, 'MODEL_VERSION', ref.version);
  setEnv(vllm, 'MODEL_URI', ref.modelUri);
}

/**
 * The promotion overlay's files: the base kustomization (`basePath`, relative to the overlay's
 * folder) with a strategic-merge patch that runs the candidate in the serving Deployment.
 */
export function renderPromotion(
  base: unknown,
  ref: ModelVersionRef,
  basePath: string,
): Record<string, OverlayFile> {
  const deployment = record(base, 'object');
  if (deployment.kind !== 'Deployment') throw new Error('the base is not a Deployment');
  const metadata = record(deployment.metadata, 'metadata');
  const vllm = structuredClone(vllmContainer(record(deployment.spec, 'spec')));
  pointAt(vllm, ref);
  const patch = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: metadata.name,
      ...(metadata.namespace === undefined ? {} : { namespace: metadata.namespace }),
    },
    spec: {
      template: {
        metadata: { labels: { [VERSION_LABEL]: dnsLabel(ref.version) } },
        spec: { containers: [{ name: 'vllm', args: vllm.args, env: vllm.env }] },
      },
    },
  };
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [basePath],
    patches: [{ path: 'promote-patch.yaml' }],
  };
  return {
    'kustomization.yaml': file(`Promotes ${ref.model} version ${ref.version}`, kustomization),
    'promote-patch.yaml': file(`${ref.model} version ${ref.version} (${ref.modelUri}) in service`, patch),
  };
}

function file(line: string, content: Json): OverlayFile {
  return { comment: `${line}. Rendered by chargeback promote; review before applying.`, content };
}
