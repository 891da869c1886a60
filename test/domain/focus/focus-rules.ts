import Papa from 'papaparse';

/**
 * The FOCUS 1.4 Cost and Usage requirements that apply to the columns this product writes, as
 * the specification states them, checked row by row. Returns the broken rules, each naming the
 * row and the column; an empty list is a pass.
 */

/** Columns the Cost and Usage dataset requires in every FOCUS 1.4 dataset. */
export const MANDATORY_COLUMNS = [
  'BilledCost',
  'BillingAccountId',
  'BillingAccountName',
  'BillingCurrency',
  'BillingPeriodEnd',
  'BillingPeriodStart',
  'ChargeCategory',
  'ChargeClass',
  'ChargeDescription',
  'ChargePeriodEnd',
  'ChargePeriodStart',
  'ContractedCost',
  'EffectiveCost',
  'HostProviderName',
  'InvoiceDetailId',
  'InvoiceIssuerName',
  'ListCost',
  'PricingCategory',
  'PricingQuantity',
  'PricingUnit',
  'ServiceCategory',
  'ServiceName',
  'ServiceProviderName',
] as const;

const CHARGE_CATEGORIES = ['Usage', 'Purchase', 'Tax', 'Credit', 'Adjustment'];
const CHARGE_FREQUENCIES = ['One-Time', 'Recurring', 'Usage-Based'];
const PRICING_CATEGORIES = ['Standard', 'Dynamic', 'Committed', 'Other'];
const SERVICE_CATEGORIES = [
  'AI and Machine Learning',
  'Analytics',
  'Business Applications',
  'Compute',
  'Databases',
  'Developer Tools',
  'Multicloud',
  'Identity',
  'Integration',
  'Internet of Things',
  'Management and Governance',
  'Media',
  'Migration',
  'Mobile',
  'Networking',
  'Security',
  'Storage',
  'Web',
  'Other',
];
/** NumericFormat: a plain decimal, no exponent, no thousands separator, `.` as the decimal point. */
const DECIMAL = /^-?\d+(\.\d+)?$/;
/** DateTimeFormat: ISO 8601 extended, UTC, `Z`. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/** UnitFormat for a compound unit of a capitalised count noun and an allowed time unit, e.g. GPU-Seconds. */
const UNIT = /^[A-Z][A-Za-z]*-(?:Years|Months|Days|Hours|Minutes|Seconds|Milliseconds|Microseconds)$/;
/** ColumnHandling: FOCUS columns in PascalCase, custom columns prefixed `x_`. */
const COLUMN_NAME = /^(?:[A-Z][A-Za-z0-9]*|x_[A-Za-z0-9]+)$/;

export type FocusRow = Record<string, string>;

/** Parses a FOCUS CSV with a standard parser; an empty cell is null. */
export function parseFocus(text: string): { header: string[]; rows: FocusRow[] } {
  const parsed = Papa.parse<FocusRow>(text, { header: true, skipEmptyLines: true });
  if (parsed.errors.length > 0) throw new Error(`not CSV: ${JSON.stringify(parsed.errors[0])}`);
  return { header: parsed.meta.fields ?? [], rows: parsed.data };
}

export function focusViolations(text: string): string[] {
  const { header, rows } = parseFocus(text);
  const broken: string[] = [];
  for (const column of MANDATORY_COLUMNS)
    if (!header.includes(column)) broken.push(`column ${column} missing`);
  for (const column of header) if (!COLUMN_NAME.test(column)) broken.push(`column name ${column}`);
  if (new Set(header).size !== header.length) broken.push('a column appears twice');
  rows.forEach((row, i) => {
    const bad = (column: string, rule: string): void => {
      broken.push(`row ${i + 2} ${column}: ${rule} (${JSON.stringify(row[column])})`);
    };
    const nullCell = (column: string): boolean => (row[column] ?? '') === '';
    const notNull = (column: string): void => {
      if (nullCell(column)) bad(column, 'MUST NOT be null');
    };
    const oneOf = (column: string, values: readonly string[]): void => {
      if (!values.includes(row[column] ?? '')) bad(column, `MUST be one of ${values.join(', ')}`);
    };
    for (const column of ['BilledCost', 'EffectiveCost', 'ListCost', 'ContractedCost']) {
      notNull(column);
      if (!DECIMAL.test(row[column] ?? '')) bad(column, 'MUST be a decimal in NumericFormat');
    }
    for (const column of [
      'BillingAccountId',
      'BillingAccountName',
      'ChargeDescription',
      'InvoiceIssuerName',
      'ServiceProviderName',
      'HostProviderName',
      'ServiceName',
    ])
      notNull(column);
    if (!/^[A-Z]{3}$/.test(row.BillingCurrency ?? '')) bad('BillingCurrency', 'MUST be an ISO 4217 code');
    for (const column of ['BillingPeriodStart', 'BillingPeriodEnd', 'ChargePeriodStart', 'ChargePeriodEnd']) {
      notNull(column);
      if (!DATE_TIME.test(row[column] ?? '')) bad(column, 'MUST be in DateTimeFormat (UTC)');
    }
    const [billingStart, billingEnd, chargeStart, chargeEnd] = [
      row.BillingPeriodStart,
      row.BillingPeriodEnd,
      row.ChargePeriodStart,
      row.ChargePeriodEnd,
    ].map((t) => Date.parse(t ?? ''));
    if (!((billingStart ?? 0) < (billingEnd ?? 0)))
      bad('BillingPeriodEnd', 'MUST be after BillingPeriodStart');
    if (!((chargeStart ?? 0) < (chargeEnd ?? 0))) bad('ChargePeriodEnd', 'MUST be after ChargePeriodStart');
    if (!((billingStart ?? 0) <= (chargeStart ?? 0) && (chargeEnd ?? 0) <= (billingEnd ?? 0)))
      bad('ChargePeriodStart', 'the charge period lies in its billing period');
    if (!(row.BillingPeriodStart ?? '').endsWith('-01T00:00:00Z'))
      bad('BillingPeriodStart', 'a calendar month here: its first day, midnight');
    oneOf('ChargeCategory', CHARGE_CATEGORIES);
    // Removed in 1.4 (deprecated in 1.3): a 1.4 dataset must not carry them.
    for (const removed of ['ProviderName', 'PublisherName'])
      if (removed in row) bad(removed, 'removed in FOCUS 1.4');
    // A chargeback is no invoice: no invoice detail to point at.
    if (!nullCell('InvoiceDetailId')) bad('InvoiceDetailId', 'null when the charge is on no invoice');
    if (!nullCell('ChargeClass') && row.ChargeClass !== 'Correction')
      bad('ChargeClass', 'MUST be null or Correction');
    if ('ChargeFrequency' in row) oneOf('ChargeFrequency', CHARGE_FREQUENCIES);
    if (row.ChargeCategory === 'Usage' || row.ChargeCategory === 'Purchase')
      oneOf('PricingCategory', PRICING_CATEGORIES);
    oneOf('ServiceCategory', SERVICE_CATEGORIES);
    for (const [quantity, unit] of [
      ['PricingQuantity', 'PricingUnit'],
      ['ConsumedQuantity', 'ConsumedUnit'],
    ] as const) {
      if (!(quantity in row)) continue;
      if (row.ChargeCategory === 'Usage') notNull(quantity);
      if (!nullCell(quantity) && !DECIMAL.test(row[quantity] ?? '')) bad(quantity, 'MUST be a decimal');
      if (nullCell(quantity) !== nullCell(unit)) bad(unit, `MUST be null exactly when ${quantity} is`);
    }
    for (const unit of ['PricingUnit', 'ConsumedUnit'])
      if (!nullCell(unit) && !UNIT.test(row[unit] ?? ''))
        bad(unit, 'UnitFormat: <Singular>-<Plural time unit>');
    checkKeyValue(row, 'Tags', bad);
    checkKeyValue(row, 'AllocatedTags', bad);
    checkAllocation(row, bad);
  });
  broken.push(...splitViolations(rows));
  return broken;
}

/** Metrics (summed over a split) and the columns that describe the split itself. */
const NOT_DIMENSIONS = new Set([
  'BilledCost',
  'EffectiveCost',
  'ListCost',
  'ContractedCost',
  'PricingQuantity',
  'ConsumedQuantity',
  'Tags',
  'AllocatedMethodDetails',
  'AllocatedResourceId',
  'AllocatedResourceName',
  'AllocatedTags',
]);

/**
 * DataGeneratorCalculatedSplitCostAllocationHandling: the charges split off one origin (a
 * ResourceId in a charge period) keep its dimensions and include its tags (here, its model).
 */
function splitViolations(rows: readonly FocusRow[]): string[] {
  const broken: string[] = [];
  const origins = new Map<string, FocusRow>();
  for (const row of rows) {
    const key = JSON.stringify([row.ResourceId, row.ChargePeriodStart]);
    const first = origins.get(key) ?? row;
    origins.set(key, first);
    for (const column of Object.keys(row)) {
      if (column.startsWith('x_') || NOT_DIMENSIONS.has(column)) continue;
      if (row[column] !== first[column])
        broken.push(`split of ${key}: ${column} differs between its charges`);
    }
    const tags = JSON.parse(row.Tags ?? '{}') as Record<string, unknown>;
    const originTags = JSON.parse(first.Tags ?? '{}') as Record<string, unknown>;
    if (tags.model !== originTags.model) broken.push(`split of ${key}: Tags lack the origin's model`);
  }
  return broken;
}

function checkKeyValue(row: FocusRow, column: string, bad: (column: string, rule: string) => void): void {
  const text = row[column] ?? '';
  if (text === '') return;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    bad(column, 'MUST be a JSON object (KeyValueFormat)');
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    bad(column, 'MUST be a JSON object (KeyValueFormat)');
  else if (Object.values(value).some((v) => typeof v !== 'string' && v !== true))
    bad(column, 'tag values are strings (true for a valueless tag)');
}

function checkAllocation(row: FocusRow, bad: (column: string, rule: string) => void): void {
  // Every charge here is part of a data generator-calculated split: the method is never null.
  if ((row.AllocatedMethodId ?? '') === '') bad('AllocatedMethodId', 'MUST NOT be null for a split charge');
  const details = JSON.parse(row.AllocatedMethodDetails ?? 'null') as {
    Elements?: { AllocatedRatio?: unknown; UsageUnit?: unknown; UsageQuantity?: unknown }[];
  } | null;
  const elements = details?.Elements;
  if (!Array.isArray(elements) || elements.length === 0)
    bad('AllocatedMethodDetails', 'MUST hold a non-empty Elements array');
  for (const element of elements ?? []) {
    const ratio = element.AllocatedRatio;
    if (typeof ratio !== 'number' || ratio < 0 || ratio > 1)
      bad('AllocatedMethodDetails', 'AllocatedRatio in 0..1');
    if (element.UsageQuantity !== undefined && typeof element.UsageUnit !== 'string')
      bad('AllocatedMethodDetails', 'UsageUnit present when UsageQuantity is');
  }
  const allocated = (row.AllocatedResourceId ?? '') !== '';
  const idle = row.x_ChargeKind === 'idle';
  // The unallocated portion of the origin charge has no allocated resource; an allocated one has.
  if (allocated === idle) bad('AllocatedResourceId', 'null exactly for the unallocated (idle) portion');
  if (((row.AllocatedResourceName ?? '') !== '') !== allocated)
    bad('AllocatedResourceName', 'null exactly when AllocatedResourceId is');
}
