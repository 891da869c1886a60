/**
 * A small seeded random source (sfc32 seeded through splitmix32): the simulator must write the
 * same bytes for the same seed on every machine and Node version, which Math.random cannot do.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** One independent stream per (seed, ...salt), so adding draws to one stream never shifts another. */
  constructor(seed: number, ...salt: readonly number[]) {
    let state = splitmix(seed >>> 0);
    for (const s of salt) state = splitmix((state ^ Math.imul(s + 0x632be5ab, 0x9e3779b1)) >>> 0);
    this.a = state = splitmix(state);
    this.b = state = splitmix(state);
    this.c = state = splitmix(state);
    this.d = splitmix(state);
    for (let i = 0; i < 12; i += 1) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4_294_967_296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** Log-normal with the given median and shape (sigma of the underlying normal). */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  normal(): number {
    // Box-Muller; one draw of the pair is enough here.
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Picks one of the choices with probability proportional to its weight. */
  pick<T>(weights: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, weight] of weights) total += weight;
    let point = this.next() * total;
    for (const [key, weight] of weights) {
      point -= weight;
      if (point < 0) return key;
    }
    const last = weights[weights.length - 1];
    if (last === undefined) throw new Error('pick from no choices');
    return last[0];
  }

  /** A version-4 UUID made of this stream's bits. */
  uuid(): string {
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    const a = hex(this.uint32());
    const b = hex(((this.uint32() & 0xffff0fff) | 0x00004000) >>> 0);
    const c = hex(((this.uint32() & 0x3fffffff) | 0x80000000) >>> 0);
    const d = hex(this.uint32());
    return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${d}`;
  }

  /** Lower-case letters and digits, as Kubernetes puts in generated pod names. */
  name(length: number): string {
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    let out = '';
    for (let i = 0; i < length; i += 1) out += alphabet[this.below(alphabet.length)] ?? 'x';
    return out;
  }
}

function splitmix(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
