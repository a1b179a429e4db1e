/**
 * Seeded pseudo-random numbers in plain JS (backend independent): the same seed gives the same weights,
 * prompts and samples on every backend. mulberry32 (32-bit state) + Box-Muller for normals.
 */
export class Rng {
  private s: number;
  private spare: number | undefined;
  constructor(seed: number) { this.s = (seed >>> 0) ^ 0x9e3779b9; }
  /** uniform in [0, 1) */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** integer in [0, n) */
  int(n: number): number { return Math.floor(this.next() * n); }
  /** standard normal */
  normal(): number {
    if (this.spare !== undefined) { const v = this.spare; this.spare = undefined; return v; }
    let u = 0;
    while (u <= 1e-12) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  /** a new independent stream derived from this one */
  fork(salt = 0): Rng { return new Rng(Math.floor(this.next() * 4294967296) ^ (salt * 0x85ebca6b)); }
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) { const j = this.int(i + 1); [a[i], a[j]] = [a[j], a[i]]; }
    return a;
  }
}

/** Stable 32-bit hash of a string (FNV-1a), e.g. to derive per-tensor seeds from names. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}
