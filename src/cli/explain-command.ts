import { folderRequestSource, requestFilePaths } from '../adapters/files/request-folder.js';
import { isDay } from '../domain/days.js';
import { readLabel } from '../domain/text.js';
import type { RequestSource } from '../ports/request-store.js';
import { explainRequest, renderExplanation, renderTop, topRequests } from '../usecases/requests/explain.js';
import { parseArgsOrThrow } from './args.js';
import { UsageError } from './usage-error.js';

export const EXPLAIN_HELP = `Usage: chargeback explain --reports DIR --date YYYY-MM-DD --tenant T --request-id ID [--json]
       chargeback explain --reports DIR --date YYYY-MM-DD --tenant T --top N --feature F [--json]

What one request cost that day and why: its phases and tokens, its GPU-seconds split into its own
prefill and decode work, its share of the fixed per-step cost and of idle time (idle policy
share), its cost, how many requests its pod ran at once while it did (mean and most), and how it
compares with its tenant's feature's median. A request is looked up by its tenant and its id
together: clients choose their X-Request-Id, and another tenant's use of the same id is neither
shown nor hinted at. Every attempt the tenant made under the id is listed (a retry may reuse an
X-Request-Id). With --top, the N most expensive requests of the tenant's feature that day.
Reads DIR/requests-DATE.ndjson.gz and DIR/requests-DATE.index.json, which 'chargeback report'
writes. Exit 0 found, 1 when the tenant has no such id that day, 2 on bad arguments or missing
files.`;

export interface ExplainOptions {
  readonly reportsDir: string;
  readonly date: string;
  /** In NFC, as the file holds it (the names rule of src/domain/text.ts). */
  readonly tenant: string;
  readonly requestId?: string;
  readonly top?: { readonly n: number; readonly feature: string };
  readonly json: boolean;
}

export function parseExplainArgs(args: readonly string[]): ExplainOptions | 'help' {
  const { values } = parseArgsOrThrow(args, {
    reports: { type: 'string' },
    date: { type: 'string' },
    tenant: { type: 'string' },
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
  const given = text('tenant');
  if (given === undefined)
    throw new UsageError('explain needs --tenant T: request ids are looked up per tenant');
  const tenant = readLabel(given);
  if ('error' in tenant) throw new UsageError(`--tenant ${tenant.error}`);
  const requestId = text('request-id');
  const top = text('top');
  const feature = text('feature');
  if ((requestId === undefined) === (top === undefined))
    throw new UsageError('explain needs either --request-id ID or --top N --feature F');
  const json = values.json === true;
  if (requestId !== undefined) return { reportsDir, date, tenant: tenant.value, requestId, json };
  if (!/^\d{1,4}$/.test(top ?? '') || Number(top) < 1)
    throw new UsageError(`--top must be a whole number from 1 to 9999, got "${top ?? ''}"`);
  if (feature === undefined) throw new UsageError('--top needs --feature F');
  return { reportsDir, date, tenant: tenant.value, top: { n: Number(top), feature }, json };
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
    const top = await topRequests(source, options.tenant, options.top.feature, options.top.n);
    const text = options.json
      ? JSON.stringify(
          { date: options.date, tenant: options.tenant, feature: options.top.feature, requests: top },
          null,
          2,
        )
      : renderTop(options.tenant, options.top.feature, options.date, top);
    return { text, code: 0 };
  }
  const requestId = options.requestId ?? '';
  const explanation = await explainRequest(source, options.date, options.tenant, requestId);
  if (explanation.attempts.length === 0) {
    // The same answer whether no tenant or only another tenant used the id.
    const text = options.json
      ? JSON.stringify({ error: `no request ${requestId} of tenant ${options.tenant} on ${options.date}` })
      : `no request ${JSON.stringify(requestId)} of tenant ${JSON.stringify(options.tenant)} on ${options.date}`;
    return { text, code: 1 };
  }
  return {
    text: options.json ? JSON.stringify(explanation, null, 2) : renderExplanation(explanation),
    code: 0,
  };
}
