/**
 * The Azure ML job name of a retraining, derived from the failure that asked for it (contracts.md §10): the
 * same failure always gives the same name, so reading the job by name before creating it (contracts.md §7)
 * means a redelivered evaluation or a rerun gate never starts a second job.
 *
 * `retrain-<slug>-<hash>`: the slug (at most 32 characters) is for people reading the job list; the
 * hash (16 hex digits of SHA-256, 64 bits) is what makes the name unique, so the slug may lose
 * anything. Azure ML job names are letters, digits, `-` and `_`, starting with a letter; 64
 * characters at most is well inside its limit and what fits in a studio column.
 */
import { sha256Hex } from './sha256.js';

export interface JobNameInput {
  readonly model: string;
  readonly modelVersion: string;
  readonly dataset: string;
  /** eventId of the failed evaluation. */
  readonly evaluation: string;
}

export const MAX_SLUG = 32;

/** Lowercase ASCII letters and digits of the text, runs of anything else as one `-`; at most `max` long. */
export function slug(text: string, max = MAX_SLUG): string {
  const ascii = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // the accents NFKD split off: `é` becomes `e`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-');
  return ascii.replace(/^-+/, '').slice(0, max).replace(/-+$/, '');
}

/** The model's slug, or `model` when nothing of its name survives: never empty. */
export function modelSlug(model: string): string {
  const name = slug(model);
  return name === '' ? 'model' : name;
}

/** `retrain-<slug of the model>-<16 hex of SHA-256 over the four fields>`. */
export function jobName(failure: JobNameInput): string {
  // A JSON array is an unambiguous join: no choice of field values makes two failures collide.
  const key = JSON.stringify([failure.model, failure.modelVersion, failure.dataset, failure.evaluation]);
  return `retrain-${modelSlug(failure.model)}-${sha256Hex(key).slice(0, 16)}`;
}
