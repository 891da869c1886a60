/**
 * The promotion steps end to end for a local run (docs/promotion.md), against the Azure ML stand-in
 * (dev/aml-stand-in.ts): register the completed job's output, render the canary overlay, and decide
 * with `chargeback promote`'s own code from the candidate's evaluation and a cost-gate result,
 * writing everything under `outDir`. Nothing is applied: the applier given to promote refuses.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { parseAllDocuments } from 'yaml';
import { AmlModels } from '../src/adapters/azure-ml/aml-models.js';
import { runPromote, writeOverlay, type PromoteOutcome } from '../src/cli/promote-command.js';
import { renderCanary } from '../src/domain/promotion/overlay.js';
import type { JobState } from '../src/ports/retraining-jobs.js';
import { registerJobOutput, type RegistrationOutcome } from '../src/usecases/quality/register.js';

export interface PromotionDemoInput {
  /** The stand-in's URL and token (startAmlStandIn). */
  readonly standIn: { readonly url: string; readonly token: string };
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly workspace: string;
  /** The followed job as the stand-in reports it. */
  readonly job: JobState;
  readonly model: string;
  readonly candidateVersion: string;
  readonly currentVersion: string;
  /** Evaluation events (contracts.md §2) of the model: the candidate's, and the current version's. */
  readonly evaluations: readonly unknown[];
  /** cost-gate.json's content, as `chargeback cost-gate` writes it. */
  readonly costGate: unknown;
  readonly rulesPath: string;
  readonly outDir: string;
  /** Default vllm-deploy/interactive.yaml and vllm-deploy. */
  readonly deployment?: string;
  readonly base?: string;
  readonly now?: () => Date;
}

export interface PromotionDemoResult {
  readonly registration: RegistrationOutcome;
  /** The canary overlay's folder, when the version was registered. */
  readonly canaryDir?: string;
  readonly promotion: PromoteOutcome;
}

export async function promotionDemo(input: PromotionDemoInput): Promise<PromotionDemoResult> {
  const credential: TokenCredential = {
    getToken: (): Promise<AccessToken> =>
      Promise.resolve({ token: input.standIn.token, expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
  const registry = new AmlModels({
    subscriptionId: input.subscriptionId,
    resourceGroup: input.resourceGroup,
    workspace: input.workspace,
    endpoint: input.standIn.url,
    credential,
  });
  const registration = await registerJobOutput(registry, input.job, input.model, input.candidateVersion);
  await mkdir(input.outDir, { recursive: true });
  const deployment = input.deployment ?? 'vllm-deploy/interactive.yaml';
  const record =
    registration.registered === null
      ? {
          jobName: input.job.name,
          jobStatus: input.job.status,
          registered: false,
          reason: registration.reason,
        }
      : {
          model: registration.registered.model,
          version: registration.registered.version,
          modelUri: registration.registered.modelUri,
          jobName: registration.registered.jobName,
          jobStatus: input.job.status,
        };
  const files = {
    registration: join(input.outDir, 'registration.json'),
    evaluations: join(input.outDir, 'evaluations.ndjson'),
    costGate: join(input.outDir, 'cost-gate.json'),
  };
  await writeFile(files.registration, `${JSON.stringify(record, null, 2)}\n`);
  await writeFile(files.evaluations, input.evaluations.map((e) => `${JSON.stringify(e)}\n`).join(''));
  await writeFile(files.costGate, `${JSON.stringify(input.costGate, null, 2)}\n`);

  let canaryDir: string | undefined;
  if (registration.registered !== null) {
    const base = parseAllDocuments(await readFile(deployment, 'utf8'))
      .map((d) => d.toJS() as { kind?: unknown } | null)
      .find((d) => d?.kind === 'Deployment');
    canaryDir = join(input.outDir, 'canary');
    await writeOverlay(
      canaryDir,
      renderCanary(base, {
        model: input.model,
        version: input.candidateVersion,
        modelUri: registration.registered.modelUri,
      }),
    );
  }
  const promotion = await runPromote(
    {
      model: input.model,
      candidate: input.candidateVersion,
      current: input.currentVersion,
      registration: files.registration,
      evaluations: files.evaluations,
      costGate: files.costGate,
      rules: input.rulesPath,
      outDir: join(input.outDir, 'promotion'),
      deployment,
      base: input.base ?? 'vllm-deploy',
      apply: false,
    },
    () => Promise.reject(new Error('the promotion demo applies nothing')),
    input.now,
  );
  return { registration, ...(canaryDir === undefined ? {} : { canaryDir }), promotion };
}
