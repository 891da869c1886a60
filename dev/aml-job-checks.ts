/**
 * What the Azure ML stand-in (aml-stand-in.ts) checks in a command job's PUT body: the fields the
 * real service requires of the jobs retraining submits (contracts.md §7). Its messages are the stand-in's
 * own; the real service words them differently.
 */

/** What Azure ML would refuse in a command job's PUT body, or undefined. */
export function commandJobProblem(body: unknown): string | undefined {
  const p = (body as { properties?: Record<string, unknown> } | undefined)?.properties;
  if (p === undefined || typeof p !== 'object') return 'properties: required';
  const distribution = p.distribution as
    { distributionType?: unknown; processCountPerInstance?: unknown } | undefined;
  const resources = p.resources as { instanceCount?: unknown } | undefined;
  const limits = p.limits as { jobLimitsType?: unknown; timeout?: unknown } | undefined;
  const atLeastOne = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= 1;
  const text = (v: unknown): boolean => typeof v === 'string' && v.trim() !== '';
  const bindings = (value: unknown): Record<string, Record<string, unknown>> =>
    typeof value === 'object' && value !== null ? (value as Record<string, Record<string, unknown>>) : {};
  // Azure ML refuses an asset input without its uri ("Request is invalid and/or missing fields").
  const inputsOk = Object.values(bindings(p.inputs)).every(
    (input) => input.jobInputType === 'literal' || text(input.uri),
  );
  const outputsOk = Object.values(bindings(p.outputs)).every((output) => text(output.jobOutputType));
  const checks: [boolean, string][] = [
    [p.jobType === 'Command', 'properties.jobType: must be Command'],
    [text(p.computeId), 'properties.computeId: required'],
    [text(p.environmentId), 'properties.environmentId: required'],
    [text(p.command), 'properties.command: required'],
    [
      distribution?.distributionType === 'PyTorch',
      'properties.distribution.distributionType: must be PyTorch',
    ],
    [
      atLeastOne(distribution?.processCountPerInstance),
      'properties.distribution.processCountPerInstance: must be >= 1',
    ],
    [atLeastOne(resources?.instanceCount), 'properties.resources.instanceCount: must be >= 1'],
    [
      limits?.jobLimitsType === 'Command' &&
        typeof limits.timeout === 'string' &&
        /^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/.test(limits.timeout),
      'properties.limits.timeout: must be an ISO 8601 duration',
    ],
    [inputsOk, 'properties.inputs: every asset input needs a uri'],
    [outputsOk, 'properties.outputs: every output needs a jobOutputType'],
    [
      typeof p.tags === 'object' &&
        p.tags !== null &&
        Object.keys(p.tags).length > 0 &&
        Object.values(p.tags).every((v) => typeof v === 'string'),
      'properties.tags: lineage tags required, string values',
    ],
  ];
  return checks.find(([ok]) => !ok)?.[1];
}
