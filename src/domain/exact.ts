/**
 * Exact arithmetic for money and other scaled integers held as BigInt (a month or a year of
 * nano-dollars can pass 2^53): division rounded once, and formatting as decimals.
 */

/** numerator / denominator rounded half away from zero (denominator > 0). */
export function roundedDivide(numerator: bigint, denominator: bigint): bigint {
  const negative = numerator < 0n;
  const magnitude = ((negative ? -numerator : numerator) * 2n + denominator) / (denominator * 2n);
  return negative ? -magnitude : magnitude;
}

/** An integer scaled by 10^places as a decimal: (1500n, 3) -> "1.500". */
export function formatScaled(value: bigint, places: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(places + 1, '0');
  const whole = digits.slice(0, digits.length - places);
  return `${negative ? '-' : ''}${whole}${places > 0 ? `.${digits.slice(digits.length - places)}` : ''}`;
}

/**
 * Nano-dollars for people: `places` decimals (rounded half away from zero), thousands separators,
 * the symbol after the sign: -500_000_000n -> "-$0.50"; with `signed`, "+" on the others.
 */
export function dollars(nanos: bigint, places = 2, signed = false, symbol = '$'): string {
  const scaled = roundedDivide(nanos, 10n ** BigInt(9 - places));
  const negative = scaled < 0n;
  const [whole = '0', fraction] = formatScaled(negative ? -scaled : scaled, places).split('.');
  const sign = negative ? '-' : signed ? '+' : '';
  return `${sign}${symbol}${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${fraction === undefined ? '' : `.${fraction}`}`;
}
