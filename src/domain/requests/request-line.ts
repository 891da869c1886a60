/**
 * One request's cost as one line of JSON: what `requests-DATE.ndjson.gz` holds. Readable as it is
 * (ISO instants, GPU-seconds, USD), and exact: GPU-seconds carry 6 decimals (GPU-microseconds) and
 * USD 9 (nano-dollars), as decimal strings, so reading a line back gives the same integers.
 */
import { formatTimestamp, parseTimestamp } from '../timestamp.js';
import type { RequestCost } from './request-cost.js';

/** `micros` as seconds with 6 decimals, `nanos` as units with 9: exact decimal text of an integer. */
function decimal(value: number, places: number): string {
  const negative = value < 0;
  const digits = String(Math.abs(Math.round(value))).padStart(places + 1, '0');
  const text = `${digits.slice(0, -places)}.${digits.slice(-places)}`;
  return negative ? `-${text}` : text;
}

function integerOf(text: unknown, places: number, field: string): number {
  if (typeof text !== 'string' || !/^-?\d+\.\d+$/.test(text)) throw new Error(`${field}: not a decimal`);
  const [whole = '', fraction = ''] = text.replace('-', '').split('.');
  if (fraction.length !== places) throw new Error(`${field}: must have ${places} decimals`);
  const value = Number(whole + fraction);
  return text.startsWith('-') ? -value : value;
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
const DAY_MILLIS = 86_400_000;
let lastDay = NaN;
let lastDate = '';

/**
 * formatTimestamp's text, about three times faster: the date part (`YYYY-MM-DDT`) is kept from the
 * call before, as a day's requests share it, and the time is put together from digit tables.
 */
function instant(micros: number): string {
  if (!Number.isSafeInteger(micros)) return formatTimestamp(micros);
  const millis = Math.floor(micros / 1000);
  const rest = micros - millis * 1000;
  const day = Math.floor(millis / DAY_MILLIS);
  if (day !== lastDay) {
    const iso = new Date(day * DAY_MILLIS).toISOString(); // throws, as formatTimestamp does, out of range
    lastDate = iso.slice(0, iso.indexOf('T') + 1);
    lastDay = day;
  }
  const ofDay = millis - day * DAY_MILLIS;
  const seconds = Math.floor(ofDay / 1000);
  const h = TWO_DIGITS[Math.floor(seconds / 3600)] as string;
  const m = TWO_DIGITS[Math.floor(seconds / 60) % 60] as string;
  const s = TWO_DIGITS[seconds % 60] as string;
  const ms = THREE_DIGITS[ofDay - seconds * 1000] as string;
  return `${lastDate}${h}:${m}:${s}.${ms}${rest === 0 ? '' : (THREE_DIGITS[rest] as string)}Z`;
}

export function requestLine(c: RequestCost): string {
  // Written out rather than JSON.stringify of an object: this runs once per request of the day,
  // and the template is several times faster. Strings still go through JSON.stringify (escaping).
  const q = JSON.stringify;
  return (
    `{"requestId":${q(c.requestId)},"eventId":${q(c.eventId)},"tenant":${q(c.tenant)},` +
    `"feature":${q(c.feature)},"model":${q(c.model)},"requestClass":${q(c.requestClass)},` +
    `"pod":${q(c.pod)},"gpuSku":${q(c.gpuSku)},"gpuCount":${c.gpuCount},` +
    `"startedAt":"${instant(c.startedAt)}",` +
    `"firstTokenAt":${c.firstTokenAt === null ? 'null' : `"${instant(c.firstTokenAt)}"`},` +
    `"finishedAt":"${instant(c.finishedAt)}","queueMs":${q(c.queueMs)},` +
    `"promptTokens":${c.promptTokens},"cachedPromptTokens":${c.cachedPromptTokens},` +
    `"completionTokens":${c.completionTokens},"status":"${c.status}","metered":${c.metered},` +
    `"gpuSeconds":"${decimal(c.gpuMicros, 6)}","prefillGpuSeconds":"${decimal(c.prefillGpuMicros, 6)}",` +
    `"decodeGpuSeconds":"${decimal(c.decodeGpuMicros, 6)}","fixedGpuSeconds":"${decimal(c.fixedGpuMicros, 6)}",` +
    `"idleGpuSeconds":"${decimal(c.idleGpuMicros, 6)}","costUsd":"${decimal(c.nanos, 9)}",` +
    `"idleCostUsd":"${decimal(c.idleNanos, 9)}","meanConcurrency":${Math.round(c.meanConcurrency * 1000) / 1000},` +
    `"maxConcurrency":${c.maxConcurrency}}`
  );
}

/** A line back as a RequestCost (meanConcurrency as written: 3 decimals). Throws on a damaged line. */
export function parseRequestLine(text: string): RequestCost {
  const v = JSON.parse(text) as Record<string, unknown>;
  const str = (field: string): string => {
    const value = v[field];
    if (typeof value !== 'string') throw new Error(`${field}: not a string`);
    return value;
  };
  const num = (field: string): number => {
    const value = v[field];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${field}: not a number`);
    return value;
  };
  const instant = (field: string): number => {
    const micros = parseTimestamp(str(field));
    if (micros === undefined) throw new Error(`${field}: not a timestamp`);
    return micros;
  };
  const status = str('status');
  if (status !== 'ok' && status !== 'error' && status !== 'aborted') throw new Error('status: unknown');
  return {
    requestId: str('requestId'),
    eventId: str('eventId'),
    tenant: str('tenant'),
    feature: str('feature'),
    model: str('model'),
    requestClass: str('requestClass'),
    pod: str('pod'),
    gpuSku: str('gpuSku'),
    gpuCount: num('gpuCount'),
    startedAt: instant('startedAt'),
    firstTokenAt: v.firstTokenAt === null ? null : instant('firstTokenAt'),
    finishedAt: instant('finishedAt'),
    queueMs: num('queueMs'),
    promptTokens: num('promptTokens'),
    cachedPromptTokens: num('cachedPromptTokens'),
    completionTokens: num('completionTokens'),
    status,
    metered: v.metered === true,
    gpuMicros: integerOf(v.gpuSeconds, 6, 'gpuSeconds'),
    prefillGpuMicros: integerOf(v.prefillGpuSeconds, 6, 'prefillGpuSeconds'),
    decodeGpuMicros: integerOf(v.decodeGpuSeconds, 6, 'decodeGpuSeconds'),
    fixedGpuMicros: integerOf(v.fixedGpuSeconds, 6, 'fixedGpuSeconds'),
    idleGpuMicros: integerOf(v.idleGpuSeconds, 6, 'idleGpuSeconds'),
    nanos: integerOf(v.costUsd, 9, 'costUsd'),
    idleNanos: integerOf(v.idleCostUsd, 9, 'idleCostUsd'),
    meanConcurrency: num('meanConcurrency'),
    maxConcurrency: num('maxConcurrency'),
  };
}

/**
 * What a lookup is by: a request id is the client's to choose, so two tenants may send the same one;
 * a request is found by its tenant and its id together.
 */
export interface RequestKey {
  readonly tenant: string;
  readonly requestId: string;
}

/** The order of lookup keys: tenant, then request id, by UTF-16 code units. */
export function compareKeys(a: RequestKey, b: RequestKey): number {
  if (a.tenant !== b.tenant) return a.tenant < b.tenant ? -1 : 1;
  if (a.requestId !== b.requestId) return a.requestId < b.requestId ? -1 : 1;
  return 0;
}

/** The order of the file: tenant, request id, then event id (deterministic whatever the input order). */
export function inFileOrder(a: RequestCost, b: RequestCost): number {
  return compareKeys(a, b) || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
}
