import { folderRequestSource, requestFilePaths } from '../adapters/files/request-folder.js';
import { isDay } from '../domain/days.js';
import type { RequestSource } from '../ports/request-store.js';
import { explainRequest, renderExplanation, renderTop, topRequests } from '../usecases/requests/explain.js';
import { parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

export const EXPLAIN_HELP = `Usage: chargeback explain --reports DIR --date YYYY-MM-DD --request-id ID [--json]
       chargeback explain --reports DIR --date YYYY-MM-DD --top N --feature F [--json]

What one request cost that day and why: its phases and tokens, its GPU-seconds split into its own
prefill and decode work, its share of the fixed per-step cost and of idle time (idle policy
share), its cost, how many requests its pod ran at once while it did (mean and most), and how it
compares with its feature's median. Every attempt recorded under the id is listed (a retry may
reuse an X-Request-Id). With --top, the feature's N most expensive requests of the day.
Reads DIR/requests-DATE.ndjson.gz and DIR/requests-DATE.index.json, which 'chargeback report'
writes. Exit 0 found, 1 when the id is not in that day, 2 on bad arguments or missing files.`;

export interface ExplainOptions {
  readonly reportsDir: string;
  readonly date: string;
  readonly requestId?: string;
  readonly top?: { readonly n: number; readonly feature: string };
  readonly json: boolean;
}

export function parseExplainArgs(args: readonly string[]): ExplainOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    reports: { type: 'string' },
    date: { type: 'string' },
    'request-id': { type: 'string' },
    top: { type: 'string' },
    feature: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return 'help';
  const text = (name: string): string | undefined =>
    typeof values[name] === 'string' ? values[name] : undefined;
  const reportsDir = text('reports');
  const date = text('date');
  if (reportsDir === undefined || date === undefined)
    throw new UsageError('explain needs --reports DIR and --date YYYY-MM-DD');
  if (!isDay(date)) throw new UsageError(`--date must be a day YYYY-MM-DD, got "${date}"`);
  const requestId = text('request-id');
  const top = text('top');
  const feature = text('feature');
  if ((requestId === undefined) === (top === undefined))
    throw new UsageError('explain needs either --request-id ID or --top N --feature F');
  const json = values.json === true;
  if (requestId !== undefined) return { reportsDir, date, requestId, json };
  if (!/^\d{1,4}$/.test(top ?? '') || Number(top) < 1)
    throw new UsageError(`--top must be a whole number from 1 to 9999, got "${top ?? ''}"`);
  if (feature === undefined) throw new UsageError('--top needs --feature F');
  return { reportsDir, date, top: { n: Number(top), feature }, json };
}

/** The text (or JSON) to print, and the exit status. */
export async function runExplain(options: ExplainOptions): Promise<{ text: string; code: 0 | 1 }> {
  let source: RequestSource;
  try {
    source = await folderRequestSource(options.reportsDir, options.date);
  } catch (error) {
    const paths = requestFilePaths(options.reportsDir, options.date);
    throw new UsageError(
      `cannot read the per-request costs of ${options.date} (${paths.data}, ${paths.index}): ` +
        `${(error as Error).message}; run 'chargeback report' for the day first`,
    );
  }
  if (options.top !== undefined) {
    const top = await topRequests(source, options.top.feature, options.top.n);
    const text = options.json
      ? JSON.stringify({ date: options.date, feature: options.top.feature, requests: top }, null, 2)
      : renderTop(options.top.feature, options.date, top);
    return { text, code: 0 };
  }
  const requestId = options.requestId ?? '';
  const explanation = await explainRequest(source, options.date, requestId);
  if (explanation.attempts.length === 0) {
    const text = options.json
      ? JSON.stringify({ error: `no request ${requestId} on ${options.date}` })
      : `no request ${JSON.stringify(requestId)} on ${options.date}`;
    return { text, code: 1 };
  }
  return {
    text: options.json ? JSON.stringify(explanation, null, 2) : renderExplanation(explanation),
    code: 0,
  };
}
