import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IContainer, IService } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import {
  renderCanary,
  renderPromotion,
  weightsPath,
  type OverlayFile,
} from '../../../src/domain/promotion/overlay.js';

const load = (): { kind?: string }[] =>
  parseAllDocuments(readFileSync('vllm-deploy/interactive.yaml', 'utf8')).map(
    (d) => d.toJS() as { kind?: string },
  );
const docs = load();
const base = docs.find((d) => d.kind === 'Deployment') as IDeployment;
const clientService = docs.find((d) => d.kind === 'Service') as IService;
const REF = { model: 'llama-3.1-8b-instruct', version: '8', modelUri: 'azureml://jobs/j-1/outputs/model' };

const selects = (
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean => selector !== undefined && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the manifest's type
const content = <T>(file: OverlayFile | undefined): T => file?.content as T;
const vllmOf = (containers: IContainer[] | undefined): IContainer | undefined =>
  containers?.find((c) => c.name === 'vllm');

describe('the canary overlay', () => {
  const files = renderCanary(base, REF);
  const deployment = content<IDeployment>(files['deployment.yaml']);
  const service = content<IService>(files['service.yaml']);
  const podLabels = deployment.spec?.template.metadata?.labels;

  it('is a kustomization of its own Deployment and Service in the serving namespace', () => {
    expect(content(files['kustomization.yaml'])).toMatchObject({
      kind: 'Kustomization',
      namespace: 'llm-serving',
      resources: ['deployment.yaml', 'service.yaml'],
    });
  });

  it('runs one replica of the candidate beside the current Deployment, under another name', () => {
    expect(deployment.metadata?.name).toBe('vllm-interactive-canary-v8');
    expect(deployment.spec?.replicas).toBe(1);
    const vllm = vllmOf(deployment.spec?.template.spec?.containers);
    expect(vllm?.args?.[0]).toBe(weightsPath(REF));
    expect(vllm?.args).toContain('--served-model-name');
    expect(vllm?.env).toEqual(
      expect.arrayContaining([
        { name: 'MODEL_VERSION', value: '8' },
        { name: 'MODEL_URI', value: REF.modelUri },
      ]),
    );
    expect(selects(deployment.spec?.selector.matchLabels, podLabels)).toBe(true);
    // The sidecar stays: the canary's traffic is metered like any other.
    expect(deployment.spec?.template.spec?.containers.map((c) => c.name)).toContain('chargeback-sidecar');
  });

  it('is selected by its own Service and by no client Service', () => {
    expect(selects(clientService.spec?.selector, podLabels)).toBe(false);
    expect(selects(service.spec?.selector, podLabels)).toBe(true);
    expect(service.metadata?.name).toBe('vllm-interactive-canary-v8');
  });

  it('leaves the base Deployment as it was', () => {
    expect(base).toEqual(load().find((d) => d.kind === 'Deployment'));
  });

  it('refuses a base that is not a Deployment with a vllm container', () => {
    expect(() => renderCanary(clientService, REF)).toThrow(/not a Deployment/);
    const noVllm = structuredClone(base);
    if (noVllm.spec?.template.spec !== undefined) noVllm.spec.template.spec.containers = [];
    expect(() => renderCanary(noVllm, REF)).toThrow(/no container named vllm/);
  });
});

describe('the promotion overlay', () => {
  const files = renderPromotion(base, REF, '../../vllm-deploy');
  it('patches the serving Deployment of the base to run the candidate', () => {
    expect(content(files['kustomization.yaml'])).toMatchObject({
      resources: ['../../vllm-deploy'],
      patches: [{ path: 'promote-patch.yaml' }],
    });
    const patch = content<IDeployment>(files['promote-patch.yaml']);
    expect(patch.metadata).toEqual({ name: 'vllm-interactive', namespace: 'llm-serving' });
    const vllm = patch.spec?.template.spec?.containers[0];
    expect(vllm?.name).toBe('vllm');
    expect(vllm?.args?.[0]).toBe(weightsPath(REF));
    expect(vllm?.env).toEqual(expect.arrayContaining([{ name: 'MODEL_VERSION', value: '8' }]));
    expect(patch.spec?.template.metadata?.labels?.['chargeback/model-version']).toBe('8');
  });
});
