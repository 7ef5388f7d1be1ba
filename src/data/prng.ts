// Small, fast, splittable pseudo-random generator for data augmentation.
//
// Why not Math.random: augmentation must be reproducible from (seed, epoch,
// sample, view) alone so that 0 or N worker threads produce identical bytes.
// Every random decision in src/data draws from an explicit `Rng` instance.
//
// Algorithm: xoshiro128** (Blackman & Vigna), 128-bit state, 32-bit output,
// which maps onto JavaScript's 32-bit integer ops (Math.imul, >>>) without
// BigInt. Seeding and stream derivation hash the key tuple with a
// murmur3-style finalizer so that nearby keys (sample 7 vs 8) give
// unrelated streams.

const GOLDEN = 0x9e3779b9;

/** murmur3 fmix32: a bijective avalanche mix of one 32-bit word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Splits a non-negative integer (up to 2^53) into its low and high 32-bit words. */
function words(key: number): [number, number] {
  if (!Number.isInteger(key) || key < 0 || key > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`Rng key must be a non-negative safe integer, got ${key}`);
  }
  return [key >>> 0, Math.floor(key / 0x100000000) >>> 0];
}

const TWO_POW_32 = 0x100000000;

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Cached second Box-Muller deviate. */
  private spareNormal: number | null = null;

  private constructor(s0: number, s1: number, s2: number, s3: number) {
    this.s0 = s0 >>> 0;
    this.s1 = s1 >>> 0;
    this.s2 = s2 >>> 0;
    this.s3 = s3 >>> 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = GOLDEN; // all-zero state is a fixed point
  }

  /**
   * A generator determined only by the key tuple, e.g.
   * `Rng.fromKeys(seed, epoch, sampleIndex, view)`.
   */
  static fromKeys(...keys: number[]): Rng {
    let h0 = 0x243f6a88;
    let h1 = 0x85a308d3;
    let h2 = 0x13198a2e;
    let h3 = 0x03707344;
    keys.forEach((key, i) => {
      const [lo, hi] = words(key);
      // Mix position in too, so (1, 0) and (0, 1) differ.
      h0 = fmix32(h0 ^ lo ^ Math.imul(i + 1, GOLDEN));
      h1 = fmix32(h1 ^ hi ^ h0);
      h2 = fmix32(h2 ^ lo ^ h1 ^ (i + 1));
      h3 = fmix32(h3 ^ hi ^ h2 ^ Math.imul(keys.length, GOLDEN));
    });
    const rng = new Rng(h0, h1, h2, h3);
    // Warm up: discard a few outputs so weak keys do not show in the first draws.
    for (let i = 0; i < 4; i++) rng.nextU32();
    return rng;
  }

  /** Next raw 32-bit unsigned integer (xoshiro128**). */
  nextU32(): number {
    const s0 = this.s0,
      s1 = this.s1,
      s2 = this.s2,
      s3 = this.s3;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    let n2 = s2 ^ s0;
    let n3 = s3 ^ s1;
    const n1 = s1 ^ n2;
    const n0 = s0 ^ n3;
    n2 ^= t;
    n3 = (n3 << 11) | (n3 >>> 21);
    this.s0 = n0 >>> 0;
    this.s1 = n1 >>> 0;
    this.s2 = n2 >>> 0;
    this.s3 = n3 >>> 0;
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform double in [a, b). */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.float();
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling). n ≤ 2^32. */
  below(n: number): number {
    if (!(n >= 1 && n <= TWO_POW_32) || !Number.isInteger(n)) {
      throw new RangeError(`Rng.below needs an integer in [1, 2^32], got ${n}`);
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const r = this.nextU32();
      if (r < limit) return r % n;
    }
  }

  /** Uniform integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** true with probability p. */
  bernoulli(p: number): boolean {
    return this.float() < p;
  }

  /** ±1 with equal probability. */
  sign(): 1 | -1 {
    return (this.nextU32() & 1) === 0 ? 1 : -1;
  }

  /** Standard normal deviate (Box–Muller, polar form). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u: number, v: number, s: number;
    do {
      u = this.float() * 2 - 1;
      v = this.float() * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * f;
    return mean + std * u * f;
  }

  /** Gamma(shape, 1) deviate (Marsaglia & Tsang 2000; boost for shape < 1). */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
    if (shape < 1) {
      // Gamma(a) = Gamma(a+1) * U^(1/a)
      const u = 1 - this.float(); // (0, 1]
      return this.gamma(shape + 1) * Math.pow(u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.float();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Beta(a, b) deviate via two gammas. */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    const y = this.gamma(b);
    return x / (x + y);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: number }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /**
   * An independent child stream: consumes one draw of this stream and mixes
   * it with `keys`. Use for per-sample / per-view streams inside a batch.
   */
  fork(...keys: number[]): Rng {
    return Rng.fromKeys(this.nextU32(), this.nextU32(), ...keys);
  }
}
