/**
 * The promotion steps end to end for a local run (docs/promotion.md), against the Azure ML stand-in
 * (dev/aml-stand-in.ts): register the completed job's output and render the canary overlay
 * (`prepareCandidate`); then, once the canary has been evaluated and its replayed workload priced,
 * decide with `chargeback promote`'s own code (`decidePromotion`), writing everything under
 * `outDir`. Nothing is applied: the applier given to promote refuses.
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

export interface CandidateInput {
  /** The stand-in's URL and token (startAmlStandIn). */
  readonly standIn: { readonly url: string; readonly token: string };
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly workspace: string;
  /** The followed job as the stand-in reports it. */
  readonly job: JobState;
  readonly model: string;
  readonly candidateVersion: string;
  readonly outDir: string;
  /** Default vllm-deploy/interactive.yaml. */
  readonly deployment?: string;
}

export interface Candidate {
  readonly registration: RegistrationOutcome;
  /** registration.json, as `chargeback promote --registration` reads it. */
  readonly registrationFile: string;
  /** The canary overlay's folder and its Deployment's name, when the version was registered. */
  readonly canary?: { readonly dir: string; readonly name: string };
}

export interface DecisionInput {
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

export type PromotionDemoInput = CandidateInput & DecisionInput;

export interface PromotionDemoResult {
  readonly registration: RegistrationOutcome;
  /** The canary overlay's folder, when the version was registered. */
  readonly canaryDir?: string;
  readonly promotion: PromoteOutcome;
}

/** Registers the completed job's output (once: a version already there is taken as it is) and renders its canary overlay. */
export async function prepareCandidate(input: CandidateInput): Promise<Candidate> {
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
  const registrationFile = join(input.outDir, 'registration.json');
  await writeFile(registrationFile, `${JSON.stringify(record, null, 2)}\n`);
  if (registration.registered === null) return { registration, registrationFile };
  const base = parseAllDocuments(await readFile(input.deployment ?? 'vllm-deploy/interactive.yaml', 'utf8'))
    .map((d) => d.toJS() as { kind?: unknown } | null)
    .find((d) => d?.kind === 'Deployment');
  const files = renderCanary(base, {
    model: input.model,
    version: input.candidateVersion,
    modelUri: registration.registered.modelUri,
  });
  const dir = join(input.outDir, 'canary');
  await writeOverlay(dir, files);
  const name = (files['deployment.yaml']?.content.metadata as { name?: unknown } | undefined)?.name;
  return { registration, registrationFile, canary: { dir, name: String(name) } };
}

/** `chargeback promote`'s decision on the candidate's evidence, written under `outDir/promotion`; applies nothing. */
export async function decidePromotion(candidate: Candidate, input: DecisionInput): Promise<PromoteOutcome> {
  const files = {
    evaluations: join(input.outDir, 'evaluations.ndjson'),
    costGate: join(input.outDir, 'cost-gate.json'),
  };
  await mkdir(input.outDir, { recursive: true });
  await writeFile(files.evaluations, input.evaluations.map((e) => `${JSON.stringify(e)}\n`).join(''));
  await writeFile(files.costGate, `${JSON.stringify(input.costGate, null, 2)}\n`);
  return runPromote(
    {
      model: input.model,
      candidate: input.candidateVersion,
      current: input.currentVersion,
      registration: candidate.registrationFile,
      evaluations: files.evaluations,
      costGate: files.costGate,
      rules: input.rulesPath,
      outDir: join(input.outDir, 'promotion'),
      deployment: input.deployment ?? 'vllm-deploy/interactive.yaml',
      base: input.base ?? 'vllm-deploy',
      apply: false,
    },
    () => Promise.reject(new Error('the promotion demo applies nothing')),
    input.now,
  );
}

/** Both steps with evidence already in hand. */
export async function promotionDemo(input: PromotionDemoInput): Promise<PromotionDemoResult> {
  const candidate = await prepareCandidate(input);
  const promotion = await decidePromotion(candidate, input);
  return {
    registration: candidate.registration,
    ...(candidate.canary === undefined ? {} : { canaryDir: candidate.canary.dir }),
    promotion,
  };
}
