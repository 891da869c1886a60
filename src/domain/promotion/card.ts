/**
 * The Teams card of a promotion verdict (contracts.md §16): the decision in the title, the versions
 * and the evidence as facts, and every reason of a hold.
 */
import { text } from '../drift/card-text.js';
import {
  factSet,
  fit,
  heading,
  paragraph,
  title,
  type MessageContext,
  type TeamsMessage,
} from '../teams/message.js';
import type { PromotionVerdict } from './decide.js';

export function promotionMessage(verdict: PromotionVerdict, context: MessageContext = {}): TeamsMessage {
  const promote = verdict.decision === 'promote';
  const model = text(verdict.model, 80);
  const candidate = text(verdict.candidateVersion, 40);
  const words = promote
    ? `Promote ${model} version ${candidate}: both gates passed`
    : `Hold ${model} version ${candidate}: not promoted`;
  const e = verdict.evidence;
  const head = [
    title(words, context, promote ? 'good' : 'warning', text),
    factSet([
      ['Candidate', candidate],
      ['In service', text(verdict.currentVersion, 40)],
      ['Quality gate', e.qualityGate],
      ['Cost gate', e.costGate],
      ['Evaluation', text(e.evaluation ?? 'none', 80)],
      ['Job', text(e.job ?? 'none', 80)],
      ['Decided', verdict.decidedAt],
    ]),
    paragraph(
      promote
        ? 'The overlay that makes it current is written for review; nothing was applied without approval.'
        : 'The version in service is unchanged; the candidate is kept with these reasons.',
    ),
    ...(verdict.reasons.length > 0 ? [heading('Reasons')] : []),
  ];
  const rows = verdict.reasons.map((r) => paragraph(`• ${text(r, 400)}`, 'None'));
  return fit(head, rows, { ...context, moreWhere: ' in promotion.json' });
}
