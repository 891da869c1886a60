/**
 * What a case sends: the suite's prompt template filled with the case's input, or the case's own
 * messages after the template's system message, with the suite's generation settings.
 */
import type { ChatMessage, SuiteCase } from './cases.js';
import { INPUT_PLACEHOLDER, type Generation, type SuiteManifest } from './suite.js';

export type CasePrompt =
  | { readonly api: 'chat'; readonly messages: readonly ChatMessage[] }
  | { readonly api: 'completions'; readonly prompt: string };

export interface CaseRequest {
  readonly model: string;
  readonly prompt: CasePrompt;
  readonly generation: Generation;
}

/** The template with every `{{input}}` replaced by the input, taken literally (no `$&` patterns). */
export function renderTemplate(template: string, input: string): string {
  return template.split(INPUT_PLACEHOLDER).join(input);
}

export function caseRequest(manifest: SuiteManifest, suiteCase: SuiteCase, model: string): CaseRequest {
  const system = manifest.prompt.system;
  const filled =
    suiteCase.input === undefined ? undefined : renderTemplate(manifest.prompt.template, suiteCase.input);
  if (manifest.api === 'completions') {
    const text = filled ?? '';
    return {
      model,
      prompt: { api: 'completions', prompt: system === undefined ? text : `${system}\n\n${text}` },
      generation: manifest.generation,
    };
  }
  const own =
    filled === undefined ? (suiteCase.messages ?? []) : [{ role: 'user' as const, content: filled }];
  // A case that brings its own system message keeps it; otherwise the suite's comes first.
  const withSystem =
    system === undefined || own[0]?.role === 'system'
      ? own
      : [{ role: 'system' as const, content: system }, ...own];
  return { model, prompt: { api: 'chat', messages: withSystem }, generation: manifest.generation };
}
