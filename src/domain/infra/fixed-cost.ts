import { ConfigurationError } from '../errors.js';
import type { Nanos, PriceCard } from '../prices.js';
import type { Micros } from '../timestamp.js';

/**
 * The fixed GPU cost a deployment commits to, read from a `bicep snapshot` (the resources as they
 * would be deployed, every expression that can be evaluated before deployment evaluated) and the
 * price card: each AKS node pool at its autoscaler's minimum (paid whatever the traffic) and maximum
 * (the most it can cost), and each Azure ML cluster per hour of training at its maximum size.
 * Usage-based cost is the chargeback's; this is what the infrastructure alone commits to, so a
 * change of pool size or SKU shows up before it is deployed.
 */

/** Hours in a month for a monthly figure: 365 * 24 / 12. */
export const HOURS_PER_MONTH = 730;

export interface PoolCost {
  readonly name: string;
  readonly vmSize: string;
  readonly mode: 'System' | 'User';
  readonly minCount: number;
  readonly maxCount: number;
  /** Undefined when the price card does not price the VM size (only allowed for system pools). */
  readonly gpusPerVm?: number;
  readonly vmHourNanos?: Nanos;
  readonly monthlyAtMinNanos?: Nanos;
  readonly monthlyAtMaxNanos?: Nanos;
}

export interface TrainingClusterCost {
  readonly name: string;
  readonly vmSize: string;
  readonly minNodes: number;
  readonly maxNodes: number;
  readonly gpusPerVm: number;
  readonly vmHourNanos: Nanos;
  /** One hour of training with every node busy. */
  readonly hourAtMaxNanos: Nanos;
  /** Nodes kept when idle (minNodes > 0) cost this much a month. */
  readonly monthlyAtMinNanos: Nanos;
}

export interface FixedCost {
  readonly currency: string;
  readonly pools: readonly PoolCost[];
  readonly training: readonly TrainingClusterCost[];
  /** Sums over the priced pools, plus idle training nodes at the minimum. */
  readonly monthlyAtMinNanos: Nanos;
  readonly monthlyAtMaxNanos: Nanos;
  /** What the sums leave out, each with the reason (a system pool's VM size is not on the card). */
  readonly unpriced: readonly string[];
}

interface SnapshotResource {
  readonly type?: unknown;
  readonly name?: unknown;
  readonly properties?: unknown;
}

/**
 * Reads the pools and clusters of a snapshot and prices them at instant `at`. Throws a
 * ConfigurationError naming what is wrong: not a snapshot, a count that is an unevaluated
 * expression, or a GPU pool or training cluster whose VM size the price card does not price.
 */
export function fixedCostOf(snapshot: unknown, prices: PriceCard, at: Micros): FixedCost {
  const resources = (snapshot as { predictedResources?: unknown } | null)?.predictedResources;
  if (!Array.isArray(resources))
    throw new ConfigurationError('not a Bicep snapshot: it has no predictedResources array');
  const pools: PoolCost[] = [];
  const training: TrainingClusterCost[] = [];
  const unpriced: string[] = [];
  for (const resource of resources as SnapshotResource[]) {
    if (resource.type === 'Microsoft.ContainerService/managedClusters') {
      const cluster = String(resource.name);
      const profiles = (resource.properties as { agentPoolProfiles?: unknown } | undefined)
        ?.agentPoolProfiles;
      if (!Array.isArray(profiles))
        throw new ConfigurationError(`AKS cluster ${cluster}: agentPoolProfiles is not a list`);
      for (const profile of profiles as Record<string, unknown>[]) {
        const pool = poolCost(cluster, profile, prices, at);
        pools.push(pool);
        if (pool.vmHourNanos === undefined)
          unpriced.push(`${cluster}/${pool.name}: ${pool.vmSize} (system pool) is not on the price card`);
      }
    }
    if (resource.type === 'Microsoft.MachineLearningServices/workspaces/computes') {
      const cluster = trainingCost(String(resource.name), resource.properties, prices, at);
      if (cluster !== undefined) training.push(cluster);
    }
  }
  let monthlyAtMinNanos = 0;
  let monthlyAtMaxNanos = 0;
  for (const pool of pools) {
    monthlyAtMinNanos += pool.monthlyAtMinNanos ?? 0;
    monthlyAtMaxNanos += pool.monthlyAtMaxNanos ?? 0;
  }
  for (const cluster of training) {
    monthlyAtMinNanos += cluster.monthlyAtMinNanos;
    monthlyAtMaxNanos += cluster.monthlyAtMinNanos;
  }
  return { currency: prices.currency, pools, training, monthlyAtMinNanos, monthlyAtMaxNanos, unpriced };
}

function poolCost(
  cluster: string,
  profile: Record<string, unknown>,
  prices: PriceCard,
  at: Micros,
): PoolCost {
  const name = typeof profile.name === 'string' ? profile.name : '(unnamed)';
  const where = `AKS cluster ${cluster}, pool ${name}`;
  const vmSize = literalString(profile.vmSize, `${where}: vmSize`);
  const mode = profile.mode === 'System' ? 'System' : 'User';
  const autoscaling = profile.enableAutoScaling === true;
  const minCount = count(
    autoscaling ? profile.minCount : profile.count,
    `${where}: ${autoscaling ? 'minCount' : 'count'}`,
  );
  const maxCount = count(
    autoscaling ? profile.maxCount : profile.count,
    `${where}: ${autoscaling ? 'maxCount' : 'count'}`,
  );
  if (maxCount < minCount)
    throw new ConfigurationError(`${where}: maxCount ${maxCount} < minCount ${minCount}`);
  const period = prices.at(vmSize, at);
  if (period === undefined) {
    if (mode === 'System') return { name, vmSize, mode, minCount, maxCount };
    throw new ConfigurationError(`${where}: the price card has no price for ${vmSize}`);
  }
  const monthly = (nodes: number): Nanos => nodes * period.vmHourNanos * HOURS_PER_MONTH;
  return {
    name,
    vmSize,
    mode,
    minCount,
    maxCount,
    gpusPerVm: period.gpusPerVm,
    vmHourNanos: period.vmHourNanos,
    monthlyAtMinNanos: monthly(minCount),
    monthlyAtMaxNanos: monthly(maxCount),
  };
}

function trainingCost(
  resourceName: string,
  properties: unknown,
  prices: PriceCard,
  at: Micros,
): TrainingClusterCost | undefined {
  const outer = properties as { computeType?: unknown; properties?: unknown } | undefined;
  if (outer?.computeType !== 'AmlCompute') return undefined;
  const name = resourceName.split('/').at(-1) ?? resourceName;
  const where = `Azure ML cluster ${name}`;
  const inner = (outer.properties ?? {}) as { vmSize?: unknown; scaleSettings?: Record<string, unknown> };
  const vmSize = literalString(inner.vmSize, `${where}: vmSize`);
  const minNodes = count(inner.scaleSettings?.minNodeCount ?? 0, `${where}: minNodeCount`);
  const maxNodes = count(inner.scaleSettings?.maxNodeCount, `${where}: maxNodeCount`);
  const period = prices.at(vmSize, at);
  if (period === undefined)
    throw new ConfigurationError(`${where}: the price card has no price for ${vmSize}`);
  return {
    name,
    vmSize,
    minNodes,
    maxNodes,
    gpusPerVm: period.gpusPerVm,
    vmHourNanos: period.vmHourNanos,
    hourAtMaxNanos: maxNodes * period.vmHourNanos,
    monthlyAtMinNanos: minNodes * period.vmHourNanos * HOURS_PER_MONTH,
  };
}

function literalString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new ConfigurationError(`${what} is missing`);
  if (value.startsWith('['))
    throw new ConfigurationError(`${what} is an expression the snapshot could not evaluate: ${value}`);
  return value;
}

function count(value: unknown, what: string): number {
  if (typeof value === 'string' && value.startsWith('['))
    throw new ConfigurationError(`${what} is an expression the snapshot could not evaluate: ${value}`);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new ConfigurationError(
      `${what} must be a whole number >= 0, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`,
    );
  return value;
}
