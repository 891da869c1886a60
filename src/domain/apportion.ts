/**
 * Splits an integer total into integer parts proportional to non-negative weights, so that the
 * parts add up to the total exactly. Cumulative rounding: part k is round(W_k) - round(W_{k-1})
 * of the scaled running sum W, so each part is within one unit of its exact share and the order
 * of the weights (which callers fix canonically) makes the result deterministic.
 */
export function apportion(total: number, weights: ArrayLike<number>): number[] {
  const parts = new Array<number>(weights.length).fill(0);
  if (weights.length === 0) return parts;
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += weights[i] ?? 0;
  if (sum <= 0) {
    parts[weights.length - 1] = total;
    return parts;
  }
  let running = 0;
  let assigned = 0;
  for (let i = 0; i < weights.length - 1; i++) {
    running += weights[i] ?? 0;
    // running / sum first: total / sum overflows to Infinity when the weights are subnormal.
    const upTo = Math.min(total, Math.round((running / sum) * total));
    parts[i] = Math.max(0, upTo - assigned);
    assigned += parts[i] ?? 0;
  }
  parts[weights.length - 1] = total - assigned;
  return parts;
}
