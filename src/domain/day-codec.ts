import { z } from 'zod';
import type { Intake, IntakeCounts } from './accumulator.js';
import type { Equations } from './calibration/fit.js';
import { IDLE_TENANT } from './admission.js';
import type { ChargebackResult, ChargebackRow, PodTotals } from './chargeback.js';
import { PermanentError } from './errors.js';
import { BIN_EDGES, histogramTotal } from './metrics/histogram.js';
import { LatencyCounts } from './metrics/latency-counts.js';
import { HISTOGRAMS, type HistogramName } from './metrics/metrics.js';
import type { RequestStats } from './metrics/request-stats.js';

/**
 * Text forms of what one unit of a day (a set of pods) computes, for another machine to merge:
 * its chargeback (rows with their latency counts and histograms, replicas, totals; the request
 * costs travel apart), its intake, and its calibration equations. Exact: every figure is an
 * integer or, for the equations, the Float64 bytes themselves, and strings go through JSON, which
 * escapes what needs escaping (lone surrogates included). Each form names its kind and version;
 * decoding refuses anything else, naming the field, with a PermanentError: a damaged text will
 * not get better by reading it again.
 */
export const DAY_CODEC_VERSION = 2;

/** The calibration equations of one pod, packed, as calibration/fit.ts's decodeEquations gives them. */
export type FitEquations = Equations;

const count = z.number().int().min(0);
const signed = z.number().int();
const text = z.string();
const header = <K extends string>(kind: K) => ({
  kind: z.literal(kind),
  version: z.literal(DAY_CODEC_VERSION),
});

const histograms = z.strictObject(
  Object.fromEntries(
    HISTOGRAMS.map((name) => [
      name,
      z.array(count).max(BIN_EDGES[name].length, { error: `has more bins than the ${name} edges` }),
    ]),
  ) as Record<HistogramName, z.ZodArray<typeof count>>,
);

const stats = z.strictObject({
  requests: count,
  errorRequests: count,
  abortedRequests: count,
  requestsWithFirstToken: count,
  histograms,
});

const row = z.strictObject({
  tenant: text,
  feature: text,
  model: text,
  requestClass: text,
  idle: z.boolean(),
  requests: count,
  errorRequests: count,
  promptTokens: count,
  completionTokens: count,
  cachedPromptTokens: count,
  gpuMicros: count,
  nanos: signed,
  // Read by LatencyCounts.fromJSON, which knows its own form.
  latencies: z.unknown(),
  stats,
});

const podTotals = z.strictObject({
  pod: text,
  model: text,
  gpuSku: text,
  gpuCount: count.min(1),
  fleetNanos: signed,
  fleetGpuMicros: count,
  idleNanos: signed,
  idleGpuMicros: count,
  served: stats,
});

const chargebackSchema = z.strictObject({
  ...header('chargeback'),
  rows: z.array(row),
  fleetNanos: signed,
  allocatedNanos: signed,
  idleNanos: signed,
  fleetGpuMicros: count,
  allocatedGpuMicros: count,
  idleGpuMicros: count,
  requests: count,
  unmeteredRequests: count,
  pods: count,
  podTotals: z.array(podTotals),
});

const intakeSchema = z.strictObject({
  ...header('intake'),
  counts: z.strictObject({
    eventsRead: count,
    usageEvents: count,
    capacityEvents: count,
    ignoredEvents: count,
    duplicatesDropped: count,
    rejected: count,
  } satisfies Record<keyof IntakeCounts, typeof count>),
  // Pairs, not an object: the order is kept, and a reason such as "__proto__" is data, not a key.
  rejections: z.array(z.tuple([text, count.min(1)])),
  span: z.strictObject({ firstUs: signed, lastUs: signed }).optional(),
});

/**
 * Base64 text, checked in one loop: a pattern of repeated groups overflows the regular expression
 * engine's stack on the megabytes of a large pod's equations. Canonical form is checked on decoding.
 */
function isBase64(text: string): boolean {
  if (text.length % 4 !== 0) return false;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  for (let i = 0; i < text.length - padding; i += 1) {
    const c = text.charCodeAt(i);
    const ok =
      (c >= 65 && c <= 90) ||
      (c >= 97 && c <= 122) ||
      (c >= 48 && c <= 57) ||
      c === 43 /* + */ ||
      c === 47; /* / */
    if (!ok) return false;
  }
  return true;
}
const equationsSchema = z.strictObject({
  ...header('fit-equations'),
  equations: count,
  columns: count,
  // Little-endian Float64 bytes, rows one after another: exact, NaN and -0 included.
  x: z.string().refine(isBase64, { error: 'must be base64' }),
  y: z.string().refine(isBase64, { error: 'must be base64' }),
  // Each row's sampling key, and the rows sampling left out (calibration/calibrate.ts).
  keys: z.string().refine(isBase64, { error: 'must be base64' }),
  dropped: count,
});

/** A unit's chargeback as text; `requestCosts`, when present, is left out (it travels apart). */
export function encodeChargeback(result: ChargebackResult): string {
  const statsOf = (s: RequestStats) => ({
    requests: s.requests,
    errorRequests: s.errorRequests,
    abortedRequests: s.abortedRequests,
    requestsWithFirstToken: s.requestsWithFirstToken,
    histograms: Object.fromEntries(HISTOGRAMS.map((name) => [name, s.histograms[name]])),
  });
  return JSON.stringify({
    kind: 'chargeback',
    version: DAY_CODEC_VERSION,
    rows: result.rows.map((r) => ({
      tenant: r.tenant,
      feature: r.feature,
      model: r.model,
      requestClass: r.requestClass,
      idle: r.idle,
      requests: r.requests,
      errorRequests: r.errorRequests,
      promptTokens: r.promptTokens,
      completionTokens: r.completionTokens,
      cachedPromptTokens: r.cachedPromptTokens,
      gpuMicros: r.gpuMicros,
      nanos: r.nanos,
      latencies: r.latencies.toJSON(),
      stats: statsOf(r.stats),
    })),
    fleetNanos: result.fleetNanos,
    allocatedNanos: result.allocatedNanos,
    idleNanos: result.idleNanos,
    fleetGpuMicros: result.fleetGpuMicros,
    allocatedGpuMicros: result.allocatedGpuMicros,
    idleGpuMicros: result.idleGpuMicros,
    requests: result.requests,
    unmeteredRequests: result.unmeteredRequests,
    pods: result.pods,
    podTotals: result.podTotals.map((p) => ({ ...podFields(p), served: statsOf(p.served) })),
  });
}

function podFields(p: PodTotals): Omit<PodTotals, 'served'> {
  const { pod, model, gpuSku, gpuCount, fleetNanos, fleetGpuMicros, idleNanos, idleGpuMicros } = p;
  return { pod, model, gpuSku, gpuCount, fleetNanos, fleetGpuMicros, idleNanos, idleGpuMicros };
}

/**
 * Reads `encodeChargeback`'s text back, validated: kind and version, every field of the right
 * kind, and the figures that must agree (a row's latencies, stats and histograms holding its
 * requests; allocated + idle = fleet; one replica per pod; the rows' requests adding up).
 */
export function decodeChargeback(textOfUnit: string): ChargebackResult {
  const parsed = parseWith('chargeback', chargebackSchema, textOfUnit);
  const rows = parsed.rows.map((r, i): ChargebackRow => {
    const latencies = LatencyCounts.fromJSON(r.latencies, `chargeback: rows[${i}].latencies`);
    const problem = rowProblem(r, latencies);
    if (problem !== undefined) throw new PermanentError(`chargeback: rows[${i}].${problem}`);
    return { ...r, latencies };
  });
  parsed.podTotals.forEach((p, i) => {
    const problem = statsProblem(p.served);
    if (problem !== undefined) throw new PermanentError(`chargeback: podTotals[${i}].served.${problem}`);
  });
  const { kind: _k, version: _v, ...result } = parsed;
  const problem = totalsProblem(result, rows);
  if (problem !== undefined) throw new PermanentError(`chargeback: ${problem}`);
  return { ...result, rows };
}

function rowProblem(r: z.infer<typeof row>, latencies: LatencyCounts): string | undefined {
  if (r.idle !== (r.tenant === IDLE_TENANT))
    return `idle is ${r.idle} for tenant ${JSON.stringify(r.tenant)}`;
  if (latencies.size !== r.requests)
    return `latencies count ${latencies.size} requests, the row ${r.requests}`;
  if (r.stats.requests !== r.requests) return `stats.requests is ${r.stats.requests}, the row ${r.requests}`;
  if (r.stats.errorRequests !== r.errorRequests)
    return `stats.errorRequests is ${r.stats.errorRequests}, the row ${r.errorRequests}`;
  const problem = statsProblem(r.stats);
  return problem === undefined ? undefined : `stats.${problem}`;
}

function statsProblem(s: RequestStats): string | undefined {
  for (const name of HISTOGRAMS) {
    // Time to first token counts only the requests that had one; every other histogram all of them.
    const expected = name === 'ttftMs' ? s.requestsWithFirstToken : s.requests;
    const total = histogramTotal(s.histograms[name]);
    if (total !== expected) return `histograms.${name} counts ${total} requests, not ${expected}`;
  }
  return undefined;
}

function totalsProblem(
  t: Omit<ChargebackResult, 'rows' | 'requestCosts'>,
  rows: readonly ChargebackRow[],
): string | undefined {
  if (t.allocatedNanos + t.idleNanos !== t.fleetNanos) return 'allocatedNanos + idleNanos is not fleetNanos';
  if (t.allocatedGpuMicros + t.idleGpuMicros !== t.fleetGpuMicros)
    return 'allocatedGpuMicros + idleGpuMicros is not fleetGpuMicros';
  if (t.pods !== t.podTotals.length) return `pods is ${t.pods} for ${t.podTotals.length} podTotals`;
  const rowRequests = rows.reduce((n, r) => n + r.requests, 0);
  if (t.requests !== rowRequests) return `requests is ${t.requests}, the rows ${rowRequests}`;
  if (t.unmeteredRequests > t.requests) return 'unmeteredRequests is more than requests';
  return undefined;
}

/** A unit's intake as text: counts, rejections in their order, span. */
export function encodeIntake(intake: Intake): string {
  return JSON.stringify({
    kind: 'intake',
    version: DAY_CODEC_VERSION,
    counts: { ...intake.counts },
    rejections: [...intake.rejections],
    ...(intake.span === undefined
      ? {}
      : { span: { firstUs: intake.span.firstUs, lastUs: intake.span.lastUs } }),
  });
}

/** Reads `encodeIntake`'s text back; a reason given twice is refused (a Map holds it once). */
export function decodeIntake(textOfUnit: string): Intake {
  const { counts, rejections, span } = parseWith('intake', intakeSchema, textOfUnit);
  const map = new Map<string, number>();
  rejections.forEach(([reason, n], i) => {
    if (map.has(reason))
      throw new PermanentError(`intake: rejections[${i}] repeats the reason of an earlier one`);
    map.set(reason, n);
  });
  return { counts, rejections: map, ...(span === undefined ? {} : { span }) };
}

/** Calibration equations as text: the Float64 bytes in base64 (RangeError when x is not y's rows). */
export function encodeFitEquations(equations: FitEquations): string {
  const { columns, x, y, keys, dropped } = equations;
  if (!Number.isInteger(columns) || columns < 0) throw new RangeError(`equations of ${columns} columns`);
  if (x.length !== y.length * columns)
    throw new RangeError(`${x.length} numbers of x for ${y.length} equations of ${columns}`);
  if (keys.length !== y.length) throw new RangeError(`${keys.length} keys for ${y.length} equations`);
  return JSON.stringify({
    kind: 'fit-equations',
    version: DAY_CODEC_VERSION,
    equations: y.length,
    columns,
    x: toBase64(x),
    y: toBase64(y),
    keys: toBase64(keys),
    dropped,
  });
}

/** Reads `encodeFitEquations`'s text back, bit for bit. */
export function decodeFitEquations(textOfUnit: string): FitEquations {
  const parsed = parseWith('fit-equations', equationsSchema, textOfUnit);
  const flat = fromBase64(parsed.x, 'fit-equations: x');
  const y = fromBase64(parsed.y, 'fit-equations: y');
  if (flat.length !== parsed.equations * parsed.columns)
    throw new PermanentError(
      `fit-equations: x holds ${flat.length} numbers, not ${parsed.equations} equations of ${parsed.columns}`,
    );
  if (y.length !== parsed.equations)
    throw new PermanentError(`fit-equations: y holds ${y.length} numbers, not ${parsed.equations}`);
  const keys = fromBase64(parsed.keys, 'fit-equations: keys');
  if (keys.length !== parsed.equations)
    throw new PermanentError(`fit-equations: keys holds ${keys.length} numbers, not ${parsed.equations}`);
  return { columns: parsed.columns, x: flat, y, keys, dropped: parsed.dropped };
}

// The text is little-endian whatever the machine (units are encoded and decoded on different
// ones). Bytes are copied, never read as numbers: a NaN's payload comes back as it was.
const LITTLE_ENDIAN = new Uint8Array(Float64Array.of(1).buffer)[7] === 0x3f;

function toBase64(values: Float64Array): string {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  if (!LITTLE_ENDIAN) reverseEach8(bytes);
  return Buffer.from(bytes.buffer).toString('base64');
}

function fromBase64(encoded: string, field: string): Float64Array {
  const decoded = Buffer.from(encoded, 'base64');
  // Buffer reads past stray bits of the last character; the text must be the one toBase64 writes.
  if (decoded.toString('base64') !== encoded) throw new PermanentError(`${field} is not canonical base64`);
  if (decoded.length % 8 !== 0)
    throw new PermanentError(`${field} has ${decoded.length} bytes, not a multiple of 8`);
  const bytes = new Uint8Array(decoded); // a copy, aligned for a Float64Array
  if (!LITTLE_ENDIAN) reverseEach8(bytes);
  return new Float64Array(bytes.buffer);
}

function reverseEach8(bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; at += 8) bytes.subarray(at, at + 8).reverse();
}

function parseWith<S extends z.ZodType>(kind: string, schema: S, textOfUnit: string): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(textOfUnit);
  } catch (error) {
    throw new PermanentError(`${kind}: not JSON: ${(error as Error).message}`);
  }
  const found = json as { kind?: unknown; version?: unknown } | null;
  if (typeof found !== 'object' || found === null || found.kind !== kind)
    throw new PermanentError(`${kind}: kind is ${shown(found?.kind)}, not "${kind}"`);
  if (found.version !== DAY_CODEC_VERSION)
    throw new PermanentError(
      `${kind}: version ${shown(found.version)}; this code reads ${DAY_CODEC_VERSION}`,
    );
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') ?? '';
  throw new PermanentError(
    `${kind}: ${where.replace(/^\./, '') || '(top level)'} ${issue?.message ?? 'is invalid'}`,
  );
}

function shown(value: unknown): string {
  return value === undefined ? '(missing)' : JSON.stringify(value);
}
