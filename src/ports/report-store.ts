import { dayPath, isMonth } from '../domain/days.js';
import type { ByteSink } from './byte-sink.js';
import type { RequestIndex, RequestSource } from './request-store.js';

/** Where finished daily reports are read from: a folder (the command line) or the report store. */
export interface DailyReportSource {
  csv(day: string): Promise<string | undefined>;
  metrics(day: string): Promise<string | undefined>;
}

/** What a stored report says about itself, beyond its content. */
export interface StoredReportInfo {
  readonly revision: number;
  /** Segments committed after this instant (less a margin) may be missing from the report. */
  readonly ledgerAsOf: string;
  /**
   * The fingerprint of what the report was made from (segments, dead letters, prices, settings):
   * the same fingerprint again means the same report, and the day is not computed again.
   */
  readonly inputs?: string;
}

/** A day's report files (contracts.md §5 and §8), as text. */
export interface ReportFiles {
  readonly csv: string;
  readonly summary: string;
  /** `metrics-DATE.json`: the aggregates drift detection and the monthly report read. */
  readonly metrics: string;
  /** `focus-DATE.csv` (contracts.md §15), written with the CSV, before the summary; left out, none is written. */
  readonly focus?: string;
  /**
   * The per-request costs (see request-store.ts), written with the CSV, before the summary: the
   * data given here, or, without it, the bytes of the day's last closed `requestsSink`.
   */
  readonly requests?: { readonly data?: Uint8Array; readonly index: RequestIndex };
}

export interface ReportStore {
  info(day: string): Promise<StoredReportInfo | undefined>;
  /** Rewrites a stored report's info only (an unchanged day's ledgerAsOf moved on), not its files. */
  keep(day: string, info: StoredReportInfo): Promise<void>;
  /**
   * Writes the CSV and the metrics, then the summary: the summary is the commit (a report exists
   * when it does), so a reader that finds it finds the other two of the same run or a later one.
   */
  write(day: string, files: ReportFiles, info: StoredReportInfo): Promise<void>;
  /**
   * Where the day's per-request data file is streamed to, never held whole: once closed, its
   * bytes become `requests-DATE.ndjson.gz` at the next `write` of the day with `requests` given
   * without data (on this store object), not before. Throws RangeError for a string not a day.
   */
  requestsSink(day: string): ByteSink;
  csv(day: string): Promise<string | undefined>;
  summary(day: string): Promise<string | undefined>;
  /** The day's metrics file; undefined for a day never reported (or reported before it existed). */
  metrics(day: string): Promise<string | undefined>;
  /** The day's `focus-DATE.csv` (contracts.md §15); undefined for a day reported without one. */
  focus(day: string): Promise<string | undefined>;
  /**
   * Writes `alerts-DATE.json` (contracts.md §9) beside the day's report, replacing an earlier one: drift
   * detection runs after the report and may run again for the same day.
   */
  writeAlerts(day: string, text: string): Promise<void>;
  /** The day's alerts file; undefined when drift never ran for the day. */
  alerts(day: string): Promise<string | undefined>;
  /** The day's per-request costs, read in pieces; undefined when the day has none stored. */
  requests(day: string): Promise<RequestSource | undefined>;
  /** Writes a page or a monthly file at a path of `dayPagePath` or `monthlyPaths`, replacing it. */
  writeDocument(path: string, text: string, contentType: string): Promise<void>;
  /** A document written by writeDocument; undefined when there is none. */
  document(path: string): Promise<string | undefined>;
}

/** The day's report page (contracts.md §12), beside its CSV. */
export function dayPagePath(day: string): string {
  return `chargeback/${dayPath(day)}/report-${day}.html`;
}

/**
 * A month's files (contracts.md §12) in `chargeback/YYYY/MM/`, above its day folders. Throws RangeError for
 * anything but YYYY-MM, so no caller can name a blob elsewhere.
 */
export function monthlyPaths(month: string): { csv: string; html: string; summary: string; focus: string } {
  if (!isMonth(month)) throw new RangeError(`not a month YYYY-MM: ${month}`);
  const folder = `chargeback/${month.replace('-', '/')}`;
  return {
    csv: `${folder}/chargeback-${month}.csv`,
    html: `${folder}/report-${month}.html`,
    summary: `${folder}/summary-${month}.json`,
    focus: `${folder}/focus-${month}.csv`,
  };
}

/**
 * `chargeback/YYYY/MM/DD/` in the `reports` container (contracts.md §5, §8). Throws RangeError for a string
 * that is not a day, so no caller can name a blob outside the day folders.
 */
export function reportPaths(day: string): {
  csv: string;
  summary: string;
  metrics: string;
  alerts: string;
  requests: string;
  requestsIndex: string;
  focus: string;
} {
  const folder = `chargeback/${dayPath(day)}`;
  return {
    requests: `${folder}/requests-${day}.ndjson.gz`,
    requestsIndex: `${folder}/requests-${day}.index.json`,
    csv: `${folder}/chargeback-${day}.csv`,
    summary: `${folder}/summary-${day}.json`,
    metrics: `${folder}/metrics-${day}.json`,
    alerts: `${folder}/alerts-${day}.json`,
    focus: `${folder}/focus-${day}.csv`,
  };
}
