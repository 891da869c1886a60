import type { ChargebackResult } from '../chargeback.js';
import { addDays } from '../days.js';
import { formatScaled } from '../exact.js';
import type { DailyRow } from '../monthly/daily-rows.js';
import { compareRows, neutralise, restoreNeutralised, unparseCsv } from '../report/csv.js';

/**
 * The chargeback as a FinOps FOCUS Cost and Usage dataset (contracts.md §15), one row per charge: a
 * daily CSV row is one charge, an idle row its own charge. The version is the one docs/focus.md
 * names; the column set and the values follow that version's requirements for each column.
 */
export const FOCUS_VERSION = '1.4';

/** The columns in order: FOCUS columns (mandatory, then the conditional ones this data has), then `x_` ones. */
export const FOCUS_COLUMNS = [
  // Mandatory in the Cost and Usage dataset.
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
  // Conditional or recommended, present because this data has them.
  'ChargeFrequency',
  'ConsumedQuantity',
  'ConsumedUnit',
  'ResourceId',
  'ResourceName',
  'ResourceType',
  'Tags',
  'AllocatedMethodId',
  'AllocatedMethodDetails',
  'AllocatedResourceId',
  'AllocatedResourceName',
  'AllocatedTags',
  // This product's own figures.
  'x_ChargeKind',
  'x_GpuSeconds',
  'x_Requests',
  'x_ErrorRequests',
  'x_PromptTokens',
  'x_CompletionTokens',
  'x_CachedPromptTokens',
] as const;

export type FocusColumn = (typeof FOCUS_COLUMNS)[number];

/** Who bills whom: the names a FinOps tool groups providers and accounts by. */
export interface FocusParties {
  /** ServiceProviderName and InvoiceIssuerName: the platform that charges back. */
  readonly platform: string;
  /** HostProviderName: the cloud the GPUs run on. */
  readonly host: string;
  readonly billingAccountId: string;
  readonly billingAccountName: string;
}

export const DEFAULT_FOCUS_PARTIES: FocusParties = {
  platform: 'GPU inference platform',
  host: 'Microsoft',
  billingAccountId: 'gpu-inference-fleet',
  billingAccountName: 'GPU inference fleet (self-hosted vLLM)',
};

/**
 * How a pod's GPU-time became a charge (contracts.md §4.2): the one allocation method of this product,
 * documented in docs/accounting.md; the weighting (step-cost, time-share, calibrated) is its parameter.
 */
export const ALLOCATION_METHOD_ID = 'batching-aware-gpu-time';

/** A charge as its daily CSV row states it: names as sent (not neutralised), money in micro-dollars. */
export type FocusCharge = DailyRow;

export interface FocusContext {
  readonly currency: string;
  readonly parties?: FocusParties;
}

/** The day's FOCUS file from the chargeback as printed (roundForPrint): its rows in the CSV's order. */
export function renderDayFocus(date: string, printed: ChargebackResult, context: FocusContext): string {
  return renderFocus(
    [...printed.rows].sort(compareRows).map((row) => ({
      date,
      tenant: row.tenant,
      feature: row.feature,
      model: row.model,
      requestClass: row.requestClass,
      idle: row.idle,
      requests: BigInt(row.requests),
      errorRequests: BigInt(row.errorRequests),
      promptTokens: BigInt(row.promptTokens),
      completionTokens: BigInt(row.completionTokens),
      cachedPromptTokens: BigInt(row.cachedPromptTokens),
      gpuMillis: BigInt(Math.round(row.gpuMicros / 1000)),
      // Printed amounts are whole micro-dollars (roundForPrint): the CSV's costUsd exactly.
      costMicros: BigInt(Math.round(row.nanos / 1000)),
    })),
    context,
  );
}

/**
 * FOCUS rows from daily CSV rows read back (parseDailyCsv): the month's file is its days' charges,
 * day by day, so it adds up to the monthly CSV exactly. Text cells come neutralised from the CSV;
 * the formula guard is taken off again so that Tags hold the names as sent.
 */
export function chargesFromDailyRows(rows: readonly DailyRow[]): FocusCharge[] {
  return rows.map((row) => ({
    ...row,
    tenant: restoreNeutralised(row.tenant),
    feature: restoreNeutralised(row.feature),
    model: restoreNeutralised(row.model),
    requestClass: restoreNeutralised(row.requestClass),
  }));
}

/** The FOCUS CSV of charges, in the order given: RFC 4180, CRLF, header row, as the daily CSV. */
export function renderFocus(charges: readonly FocusCharge[], context: FocusContext): string {
  const origins = originTotals(charges);
  const rows = charges.map((charge) => {
    const cells = focusRow(charge, context, origins);
    return FOCUS_COLUMNS.map((column) => cells[column] ?? '');
  });
  return unparseCsv(FOCUS_COLUMNS, rows);
}

type Cells = Partial<Record<FocusColumn, string>>;

function focusRow(charge: FocusCharge, context: FocusContext, origins: Map<string, bigint>): Cells {
  const parties = context.parties ?? DEFAULT_FOCUS_PARTIES;
  const money = formatScaled(charge.costMicros, 6);
  const gpuSeconds = formatScaled(charge.gpuMillis, 3);
  const month = charge.date.slice(0, 7);
  const origin = origins.get(originKey(charge)) ?? 0n;
  const tags = charge.idle
    ? { model: charge.model }
    : {
        tenant: charge.tenant,
        feature: charge.feature,
        model: charge.model,
        requestClass: charge.requestClass,
      };
  const counted = (value: bigint): string => (charge.idle ? '' : value.toString());
  return {
    // The price card's rates are the list, contracted and billed rates alike, with no discount
    // or commitment to amortise: the four costs are the same amount.
    BilledCost: money,
    EffectiveCost: money,
    ListCost: money,
    ContractedCost: money,
    BillingAccountId: neutralise(parties.billingAccountId),
    BillingAccountName: neutralise(parties.billingAccountName),
    BillingCurrency: context.currency,
    BillingPeriodStart: instant(`${month}-01`),
    BillingPeriodEnd: instant(`${nextMonth(month)}-01`),
    ChargePeriodStart: instant(charge.date),
    ChargePeriodEnd: instant(addDays(charge.date, 1)),
    ChargeCategory: 'Usage',
    // Null: no charge here corrects an earlier one (a restated day replaces its file instead).
    ChargeClass: '',
    // One text for every charge split off a deployment's day: the split's charges must keep the
    // origin charge's dimensions (DataGeneratorCalculatedSplitCostAllocationHandling).
    // x_ChargeKind and the Allocated* columns tell allocated from idle.
    ChargeDescription: 'GPU time of a vLLM model deployment, split between its requests and idle',
    ChargeFrequency: 'Usage-Based',
    ServiceProviderName: neutralise(parties.platform),
    // Null: a chargeback is not an issued or provisional invoice.
    InvoiceDetailId: '',
    InvoiceIssuerName: neutralise(parties.platform),
    HostProviderName: neutralise(parties.host),
    PricingCategory: 'Standard',
    PricingQuantity: gpuSeconds,
    PricingUnit: 'GPU-Seconds',
    ConsumedQuantity: gpuSeconds,
    ConsumedUnit: 'GPU-Seconds',
    ServiceCategory: 'AI and Machine Learning',
    ServiceName: 'Self-hosted LLM inference (vLLM)',
    ResourceId: neutralise(`vllm-deployment/${charge.model}`),
    ResourceName: neutralise(charge.model),
    ResourceType: 'vLLM model deployment',
    Tags: JSON.stringify(tags),
    AllocatedMethodId: ALLOCATION_METHOD_ID,
    AllocatedMethodDetails: JSON.stringify({
      Elements: [
        {
          AllocatedRatio: ratio(charge.costMicros, origin),
          UsageUnit: 'GPU-Seconds',
          UsageQuantity: Number(gpuSeconds),
        },
      ],
    }),
    // Idle is the unallocated portion of the deployment's cost: no allocated resource.
    AllocatedResourceId: charge.idle
      ? ''
      : JSON.stringify([charge.tenant, charge.feature, charge.model, charge.requestClass]),
    AllocatedResourceName: charge.idle ? '' : neutralise(`${charge.tenant} / ${charge.feature}`),
    AllocatedTags: charge.idle ? '' : JSON.stringify(tags),
    x_ChargeKind: charge.idle ? 'idle' : 'allocated',
    x_GpuSeconds: gpuSeconds,
    x_Requests: charge.requests.toString(),
    x_ErrorRequests: charge.errorRequests.toString(),
    x_PromptTokens: counted(charge.promptTokens),
    x_CompletionTokens: counted(charge.completionTokens),
    x_CachedPromptTokens: counted(charge.cachedPromptTokens),
  };
}

/** The origin charge of a row: its model's deployment that day, allocated and idle together. */
function originKey(charge: FocusCharge): string {
  return JSON.stringify([charge.date, charge.model]);
}

function originTotals(charges: readonly FocusCharge[]): Map<string, bigint> {
  const totals = new Map<string, bigint>();
  for (const charge of charges) {
    const key = originKey(charge);
    totals.set(key, (totals.get(key) ?? 0n) + charge.costMicros);
  }
  return totals;
}

/** The charge's share of its origin; a deployment that cost nothing gives each charge 0. */
function ratio(part: bigint, whole: bigint): number {
  if (whole <= 0n) return 0;
  return Number((part * 1_000_000_000_000n) / whole) / 1e12;
}

/** A UTC day's first instant in FOCUS DateTimeFormat (ISO 8601, seconds, `Z`). */
function instant(day: string): string {
  return `${day}T00:00:00Z`;
}

function nextMonth(month: string): string {
  // The day after the month's last: day 28 plus 4 days is always in the next month.
  return addDays(`${month}-28`, 4).slice(0, 7);
}
