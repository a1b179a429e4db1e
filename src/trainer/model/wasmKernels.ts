/**
 * The row kernels of attention.ts as WebAssembly SIMD (128-bit, 4 × f32), emitted here as bytes for one head size hd
 * (a multiple of 4; the d loops are unrolled into hd/4 vectors kept in locals). No toolchain: the module is a few
 * hundred bytes built by the small emitter below and compiled once per hd by the running Node (SIMD is on since
 * Node 16). Log (once per row) is Math.log imported as (f64) → f64.
 *
 *   fwd(q, kb, vb, KD, idx, bias, n, scale, s, o, ml)   one query row (q: hd floats) against its n allowed keys
 *       (key t: kb + idx[t]·KD, value: vb + idx[t]·KD; bias[t] added to its score); writes o (hd floats) and
 *       ml = (m, log l): the max score and log Σ exp(score − m) (kept apart: with every key masked m ≈ −1e9 and
 *       m + log l would lose log l in float32); uses s (n + 3 floats) as scratch; idx and bias must hold 3 more
 *       entries after the n-th (a valid key index, bias −∞).
 *   bwd(q, kb, vb, KD, idx, bias, n, scale, m, logl, s, dO, o, dq, dkb, dvb)   the same row's gradients: writes dq (hd
 *       floats), adds into dk / dv at dkb / dvb + idx[t]·KD.
 * Scores, exp (a vectorised polynomial, 4 keys at a time), the sums and dk / dv accumulate in float32.
 * Pointers are byte offsets into the imported memory; KD is in bytes.
 */

// ---- a minimal WebAssembly emitter (only what the two kernels use)
const I32 = 0x7f, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;

function uleb(n: number): number[] { const out: number[] = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n); return out; }
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) { const b = n & 0x7f; n >>= 7; if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) { out.push(b); return out; } out.push(b | 0x80); }
}
const f32bytes = (x: number) => Array.from(new Uint8Array(new Float32Array([x]).buffer));
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const str = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/** One function body: named params and locals, instructions appended as bytes. */
class Fn {
  readonly code: number[] = [];
  private readonly names = new Map<string, number>();
  private readonly extra: number[] = [];
  constructor(readonly params: [string, number][], readonly result: number | undefined) { params.forEach(([n], i) => this.names.set(n, i)); }
  local(name: string, type: number): string { this.names.set(name, this.params.length + this.extra.length); this.extra.push(type); return name; }
  idx(name: string): number { const i = this.names.get(name); if (i === undefined) throw new Error(`wasm emitter: no local ${name}`); return i; }
  get = (n: string) => { this.code.push(0x20, ...uleb(this.idx(n))); return this; };
  set = (n: string) => { this.code.push(0x21, ...uleb(this.idx(n))); return this; };
  op = (...b: number[]) => { this.code.push(...b); return this; };
  i32 = (x: number) => this.op(0x41, ...sleb(x));
  f32 = (x: number) => this.op(0x43, ...f32bytes(x));
  simd = (code: number, ...imm: number[]) => this.op(0xfd, ...uleb(code), ...imm);
  /** v128.load / store at (address on the stack) + offset */
  vload = (offset: number) => this.simd(0x00, 0x02, ...uleb(offset));
  vstore = (offset: number) => this.simd(0x0b, 0x02, ...uleb(offset));
  body(): number[] {
    const groups: number[][] = [];
    for (const t of this.extra) { const g = groups[groups.length - 1]; if (g && g[1] === t) g[0]++; else groups.push([1, t]); }
    const b = [...uleb(groups.length), ...groups.flatMap(([n, t]) => [...uleb(n), t]), ...this.code, 0x0b];
    return [...uleb(b.length), ...b];
  }
  type(): number[] { return [0x60, ...vec(this.params.map(([, t]) => [t])), ...(this.result === undefined ? [0] : [1, this.result])]; }
}

// opcodes
const OP = {
  block: 0x02, loop: 0x03, end: 0x0b, br: 0x0c, brIf: 0x0d, call: 0x10, drop: 0x1a,
  i32Add: 0x6a, i32Mul: 0x6c, i32DivU: 0x6e, i32Shl: 0x74, i32GeS: 0x4e, i32Load: 0x28, f32Load: 0x2a, f32Store: 0x38,
  f32Add: 0x92, f32Sub: 0x93, f32Mul: 0x94, f32Div: 0x95, f32Max: 0x97, f64Add: 0xa0, f64Sub: 0xa1, f32Demote: 0xb6, f64Promote: 0xbb,
};
const SIMD = { splat: 0x13, extract: 0x1f, nearest: 0x6a, i32shl: 0xab, i32add: 0xae, add: 0xe4, sub: 0xe5, mul: 0xe6, min: 0xe8, max: 0xe9, truncSat: 0xf8 };
const LOG = 0; // imported function index

/** Σ of the 4 lanes of the v128 in local `v` → f32 on the stack. */
function hsum(f: Fn, v: string): void {
  f.get(v).simd(SIMD.extract, 0).get(v).simd(SIMD.extract, 1).op(OP.f32Add).get(v).simd(SIMD.extract, 2).op(OP.f32Add).get(v).simd(SIMD.extract, 3).op(OP.f32Add);
}

/** for (t = 0; t < n; t++) { body } with `j` = idx[t] and `off` = j·KD loaded first. */
function keyLoop(f: Fn, body: () => void): void {
  f.i32(0).set('t');
  f.op(OP.block, 0x40, OP.loop, 0x40);
  f.get('t').get('n').op(OP.i32GeS, OP.brIf, 1);
  f.get('idx').get('t').i32(2).op(OP.i32Shl, OP.i32Add, OP.i32Load, 0x02, 0x00).get('KD').op(OP.i32Mul).set('off');
  body();
  f.get('t').i32(1).op(OP.i32Add).set('t');
  f.op(OP.br, 0, OP.end, OP.end);
}

/** Σ_c a_c · load(ptr + 16c) (a_c: v128 locals) → f32 dot on the stack (via the v128 local `acc`). */
function dotWith(f: Fn, a: string[], ptr: string): void {
  a.forEach((name, c) => {
    f.get(name).get(ptr).vload(16 * c).simd(SIMD.mul);
    if (c > 0) f.simd(SIMD.add);
  });
  f.set('acc');
  hsum(f, 'acc');
}

/** v128.const with 4 equal f32 (or i32) lanes. */
const constF = (f: Fn, x: number) => f.simd(0x0c, ...[0, 1, 2, 3].flatMap(() => f32bytes(x)));
const constI = (f: Fn, x: number) => f.simd(0x0c, ...[0, 1, 2, 3].flatMap(() => Array.from(new Uint8Array(new Int32Array([x]).buffer))));

/**
 * exp of the f32x4 on the stack → f32x4 on the stack (Cephes expf: n = round(x·log2 e), r = x − n·ln 2 in two parts,
 * degree-7 polynomial, × 2ⁿ through the exponent bits; relative error ~1e-7). x is clamped to [−87.3, 88.3]: an input
 * below gives ~1e-38 instead of 0 (the callers only take exp of score − max ≤ 0, and of padding lanes).
 */
function expV(f: Fn): void {
  constF(f, 88.3762626647949); f.simd(SIMD.min); constF(f, -87.3365447504019); f.simd(SIMD.max).set('ex');
  f.get('ex'); constF(f, 1.44269504088896341); f.simd(SIMD.mul).simd(SIMD.nearest).set('en');
  f.get('ex').get('en'); constF(f, 0.693359375); f.simd(SIMD.mul).simd(SIMD.sub);
  f.get('en'); constF(f, -2.12194440e-4); f.simd(SIMD.mul).simd(SIMD.sub).set('er');
  constF(f, 1.9875691500e-4);
  for (const c of [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]) { f.get('er').simd(SIMD.mul); constF(f, c); f.simd(SIMD.add); }
  f.get('er').get('er').simd(SIMD.mul).simd(SIMD.mul).get('er').simd(SIMD.add); constF(f, 1); f.simd(SIMD.add);
  f.get('en').simd(SIMD.truncSat); constI(f, 127); f.simd(SIMD.i32add); f.i32(23).simd(SIMD.i32shl);
  f.simd(SIMD.mul);
}

/** s[t] = exp(s[t] − a − b) for t < n, 4 at a time (the 3 floats after s[n − 1] are set to −1e30 first); → Σ on the stack (f32). */
function expPass(f: Fn, a: string, b: string | undefined): void {
  for (let e = 0; e < 3; e++) f.get('s').get('n').i32(2).op(OP.i32Shl, OP.i32Add).f32(-1e30).op(OP.f32Store, 0x02, 4 * e);
  f.i32(0).set('t');
  constF(f, 0); f.set('lv');
  f.op(OP.block, 0x40, OP.loop, 0x40);
  f.get('t').get('n').op(OP.i32GeS, OP.brIf, 1);
  f.get('s').get('t').i32(2).op(OP.i32Shl, OP.i32Add).set('p4');
  f.get('p4').get('p4').vload(0).get(a).simd(SIMD.splat).simd(SIMD.sub);
  if (b) f.get(b).simd(SIMD.splat).simd(SIMD.sub);
  expV(f);
  f.set('acc').get('acc').vstore(0);
  f.get('lv').get('acc').simd(SIMD.add).set('lv');
  f.get('t').i32(4).op(OP.i32Add).set('t');
  f.op(OP.br, 0, OP.end, OP.end);
  hsum(f, 'lv');
}

/** i8x16.shuffle of the two v128 on the stack picking f32 lanes (0–3: first, 4–7: second). */
function shuffle(f: Fn, lanes: number[]): void {
  f.simd(0x0d, ...lanes.flatMap((l) => [0, 1, 2, 3].map((b) => 4 * l + b)));
}

/**
 * pass 1 of both kernels, 4 keys at a time: s[t..t+3] = f32(q·k)·scale + bias[t..t+3], the 4 dot products summed
 * across lanes together by shuffles (no per-key horizontal sum); the running max into `m` when given. Reads idx /
 * bias up to t = n + 3: the caller pads them (a valid key, bias −∞).
 */
function scorePass(f: Fn, qs: string[], m: string | undefined): void {
  if (m) { constF(f, -Infinity); f.set('mv'); }
  f.i32(0).set('t');
  f.op(OP.block, 0x40, OP.loop, 0x40);
  f.get('t').get('n').op(OP.i32GeS, OP.brIf, 1);
  for (let r = 0; r < 4; r++) {
    // p4 = kb + idx[t + r]·KD
    f.get('kb').get('idx').get('t').i32(2).op(OP.i32Shl, OP.i32Add, OP.i32Load, 0x02, 4 * r).get('KD').op(OP.i32Mul, OP.i32Add).set('p4');
    qs.forEach((name, c) => { f.get(name).get('p4').vload(16 * c).simd(SIMD.mul); if (c > 0) f.simd(SIMD.add); });
    f.set(`k${r}`);
  }
  f.get('k0').get('k1'); shuffle(f, [0, 4, 1, 5]); f.get('k0').get('k1'); shuffle(f, [2, 6, 3, 7]); f.simd(SIMD.add).set('k0');
  f.get('k2').get('k3'); shuffle(f, [0, 4, 1, 5]); f.get('k2').get('k3'); shuffle(f, [2, 6, 3, 7]); f.simd(SIMD.add).set('k2');
  f.get('k0').get('k2'); shuffle(f, [0, 1, 4, 5]); f.get('k0').get('k2'); shuffle(f, [2, 3, 6, 7]); f.simd(SIMD.add);
  f.get('scale').simd(SIMD.splat).simd(SIMD.mul);
  f.get('bias').get('t').i32(2).op(OP.i32Shl, OP.i32Add).vload(0).simd(SIMD.add).set('k1');
  f.get('s').get('t').i32(2).op(OP.i32Shl, OP.i32Add).get('k1').vstore(0);
  if (m) f.get('mv').get('k1').simd(SIMD.max).set('mv');
  f.get('t').i32(4).op(OP.i32Add).set('t');
  f.op(OP.br, 0, OP.end, OP.end);
  if (m) {
    f.get('mv').simd(SIMD.extract, 0).get('mv').simd(SIMD.extract, 1).op(OP.f32Max).get('mv').simd(SIMD.extract, 2).op(OP.f32Max).get('mv').simd(SIMD.extract, 3).op(OP.f32Max).set(m);
  }
}

function buildModule(hd: number): Uint8Array {
  const C = hd / 4;
  const vs = (p: string) => Array.from({ length: C }, (_, c) => `${p}${c}`);
  const loadP = (f: Fn) => f.get('s').get('t').i32(2).op(OP.i32Shl, OP.i32Add, OP.f32Load, 0x02, 0x00).set('p');
  // ---- fwd: writes o and ml = (max score, log Σ exp(score − max))
  const fw = new Fn([['q', I32], ['kb', I32], ['vb', I32], ['KD', I32], ['idx', I32], ['bias', I32], ['n', I32], ['scale', F32], ['s', I32], ['o', I32], ['ml', I32]], undefined);
  for (const n of ['t', 'off', 'p4']) fw.local(n, I32);
  for (const n of ['m', 'x', 'p', 'l']) fw.local(n, F32);
  for (const n of [...vs('q'), ...vs('a'), 'acc', 'lv', 'ex', 'en', 'er', 'k0', 'k1', 'k2', 'k3', 'mv']) fw.local(n, V128);
  vs('q').forEach((n, c) => fw.get('q').vload(16 * c).set(n));
  fw.f32(-Infinity).set('m');
  scorePass(fw, vs('q'), 'm');
  expPass(fw, 'm', undefined);
  fw.set('l');
  // a = Σ p_t · v_t
  keyLoop(fw, () => {
    loadP(fw);
    fw.get('vb').get('off').op(OP.i32Add).set('p4');
    vs('a').forEach((a, c) => fw.get(a).get('p').simd(SIMD.splat).get('p4').vload(16 * c).simd(SIMD.mul).simd(SIMD.add).set(a));
  });
  fw.f32(1).get('l').op(OP.f32Div).set('x');
  vs('a').forEach((a, c) => fw.get('o').get(a).get('x').simd(SIMD.splat).simd(SIMD.mul).vstore(16 * c));
  fw.get('ml').get('m').op(OP.f32Store, 0x02, 0);
  fw.get('ml').get('l').op(OP.f64Promote, OP.call, LOG, OP.f32Demote, OP.f32Store, 0x02, 4);

  // ---- bwd: p = exp(score − m − logl)
  const bw = new Fn([['q', I32], ['kb', I32], ['vb', I32], ['KD', I32], ['idx', I32], ['bias', I32], ['n', I32], ['scale', F32], ['m', F32], ['logl', F32], ['s', I32], ['dO', I32], ['o', I32], ['dq', I32], ['dkb', I32], ['dvb', I32]], undefined);
  for (const n of ['t', 'off', 'p4']) bw.local(n, I32);
  for (const n of ['x', 'p', 'dp', 'ds', 'D']) bw.local(n, F32);
  for (const n of [...vs('q'), ...vs('g'), ...vs('gq'), 'acc', 'lv', 'ex', 'en', 'er', 'k0', 'k1', 'k2', 'k3']) bw.local(n, V128);
  vs('q').forEach((n, c) => bw.get('q').vload(16 * c).set(n));
  vs('g').forEach((n, c) => bw.get('dO').vload(16 * c).set(n));
  dotWith(bw, vs('g'), 'o');
  bw.set('D');
  scorePass(bw, vs('q'), undefined);
  expPass(bw, 'm', 'logl');
  bw.op(OP.drop);
  keyLoop(bw, () => {
    loadP(bw);
    // dp = dO · v;  dv += p · dO
    bw.get('vb').get('off').op(OP.i32Add).set('p4');
    dotWith(bw, vs('g'), 'p4');
    bw.set('dp');
    bw.get('dvb').get('off').op(OP.i32Add).set('p4');
    vs('g').forEach((g, c) => bw.get('p4').get('p4').vload(16 * c).get(g).get('p').simd(SIMD.splat).simd(SIMD.mul).simd(SIMD.add).vstore(16 * c));
    // ds = p·(dp − D)·scale;  gq += ds · k;  dk += ds · q
    bw.get('p').get('dp').get('D').op(OP.f32Sub, OP.f32Mul).get('scale').op(OP.f32Mul).set('ds');
    bw.get('kb').get('off').op(OP.i32Add).set('p4');
    vs('gq').forEach((g, c) => bw.get(g).get('p4').vload(16 * c).get('ds').simd(SIMD.splat).simd(SIMD.mul).simd(SIMD.add).set(g));
    bw.get('dkb').get('off').op(OP.i32Add).set('p4');
    vs('q').forEach((qn, c) => bw.get('p4').get('p4').vload(16 * c).get(qn).get('ds').simd(SIMD.splat).simd(SIMD.mul).simd(SIMD.add).vstore(16 * c));
  });
  vs('gq').forEach((g, c) => bw.get('dq').get(g).vstore(16 * c));

  // ---- fwdh / bwdh: the same for the H heads of one query position (one call from JS instead of H): head h reads q at
  // q + h·qs, its key / value head h / rep at kb / vb + (h / rep)·qs, writes o + h·qs and ml + h·mls (qs = hd·4 bytes)
  const headLoop = (f: Fn, call: () => void) => {
    f.i32(0).set('h');
    f.op(OP.block, 0x40, OP.loop, 0x40);
    f.get('h').get('H').op(OP.i32GeS, OP.brIf, 1);
    f.get('h').get('rep').op(OP.i32DivU).get('qs').op(OP.i32Mul).set('kvo');
    call();
    f.get('h').i32(1).op(OP.i32Add).set('h');
    f.op(OP.br, 0, OP.end, OP.end);
  };
  const at = (f: Fn, base: string, stride: string, idx: string) => f.get(base).get(idx).get(stride).op(OP.i32Mul, OP.i32Add);
  const fh = new Fn([['q', I32], ['qs', I32], ['H', I32], ['rep', I32], ['kb', I32], ['vb', I32], ['KD', I32], ['idx', I32], ['bias', I32], ['n', I32], ['scale', F32], ['s', I32], ['o', I32], ['ml', I32], ['mls', I32]], undefined);
  fh.local('h', I32); fh.local('kvo', I32);
  headLoop(fh, () => {
    at(fh, 'q', 'qs', 'h'); fh.get('kb').get('kvo').op(OP.i32Add).get('vb').get('kvo').op(OP.i32Add);
    fh.get('KD').get('idx').get('bias').get('n').get('scale').get('s');
    at(fh, 'o', 'qs', 'h'); at(fh, 'ml', 'mls', 'h');
    fh.op(OP.call, 1);
  });
  const bh = new Fn([['q', I32], ['qs', I32], ['H', I32], ['rep', I32], ['kb', I32], ['vb', I32], ['KD', I32], ['idx', I32], ['bias', I32], ['n', I32], ['scale', F32], ['ml', I32], ['mls', I32], ['s', I32], ['dO', I32], ['o', I32], ['dq', I32], ['dkb', I32], ['dvb', I32]], undefined);
  bh.local('h', I32); bh.local('kvo', I32); bh.local('mp', I32);
  headLoop(bh, () => {
    at(bh, 'ml', 'mls', 'h'); bh.set('mp');
    at(bh, 'q', 'qs', 'h'); bh.get('kb').get('kvo').op(OP.i32Add).get('vb').get('kvo').op(OP.i32Add);
    bh.get('KD').get('idx').get('bias').get('n').get('scale');
    bh.get('mp').op(OP.f32Load, 0x02, 0).get('mp').op(OP.f32Load, 0x02, 4).get('s');
    at(bh, 'dO', 'qs', 'h'); at(bh, 'o', 'qs', 'h'); at(bh, 'dq', 'qs', 'h');
    bh.get('dkb').get('kvo').op(OP.i32Add).get('dvb').get('kvo').op(OP.i32Add);
    bh.op(OP.call, 2);
  });

  const fnType = (params: number[], result?: number) => [0x60, ...vec(params.map((t) => [t])), ...(result === undefined ? [0] : [1, result])];
  const types = [fnType([F64], F64), fw.type(), bw.type(), fh.type(), bh.type()];
  const imports = [
    [...str('m'), ...str('log'), 0x00, 0],
    [...str('m'), ...str('mem'), 0x02, 0x00, ...uleb(1)],
  ];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec([[1], [2], [3], [4]])),
    ...section(7, vec([[...str('fwd'), 0x00, 1], [...str('bwd'), 0x00, 2], [...str('fwdh'), 0x00, 3], [...str('bwdh'), 0x00, 4]])),
    ...section(10, vec([fw.body(), bw.body(), fh.body(), bh.body()])),
  ];
  return new Uint8Array(bytes);
}

export interface AttentionKernels {
  memory: WebAssembly.Memory;
  fwd(q: number, kb: number, vb: number, KD: number, idx: number, bias: number, n: number, scale: number, s: number, o: number, ml: number): void;
  bwd(q: number, kb: number, vb: number, KD: number, idx: number, bias: number, n: number, scale: number, m: number, logl: number, s: number, dO: number, o: number, dq: number, dkb: number, dvb: number): void;
  /** fwd for the H heads of one position: q + h·qs, key / value head h / rep at kb / vb + (h / rep)·qs, o + h·qs, ml + h·mls */
  fwdh(q: number, qs: number, H: number, rep: number, kb: number, vb: number, KD: number, idx: number, bias: number, n: number, scale: number, s: number, o: number, ml: number, mls: number): void;
  /** bwd for the H heads of one position (m, log l read from ml + h·mls), as fwdh */
  bwdh(q: number, qs: number, H: number, rep: number, kb: number, vb: number, KD: number, idx: number, bias: number, n: number, scale: number, ml: number, mls: number, s: number, dO: number, o: number, dq: number, dkb: number, dvb: number): void;
  /** make sure the memory holds `bytes` (views over it must be made again after this) */
  reserve(bytes: number): void;
}

const modules = new Map<number, WebAssembly.Module | null>();
const shared = new Map<number, AttentionKernels | null>();

function compiled(hd: number): WebAssembly.Module | null {
  if (!modules.has(hd)) {
    let m: WebAssembly.Module | null = null;
    if (hd % 4 === 0 && hd > 0 && hd <= 256 && typeof WebAssembly === 'object') {
      try { m = new WebAssembly.Module(buildModule(hd) as Uint8Array<ArrayBuffer>); } catch { m = null; } // no SIMD: JS kernels
    }
    modules.set(hd, m);
  }
  return modules.get(hd)!;
}

/** A fresh instance of the kernels for head size hd with its own memory (a KV-cache mirror keeps one per layer). */
export function newAttentionKernels(hd: number): AttentionKernels | null {
  const mod = compiled(hd);
  if (!mod) return null;
  const memory = new WebAssembly.Memory({ initial: 1 });
  const ex = new WebAssembly.Instance(mod, { m: { log: Math.log, mem: memory } }).exports as unknown as Pick<AttentionKernels, 'fwd' | 'bwd' | 'fwdh' | 'bwdh'>;
  return {
    memory, fwd: ex.fwd, bwd: ex.bwd, fwdh: ex.fwdh, bwdh: ex.bwdh,
    reserve(bytes: number) { const have = memory.buffer.byteLength; if (bytes > have) memory.grow(Math.ceil((bytes - have) / 65536)); },
  };
}

/** The shared kernels for head size hd, or null where WebAssembly SIMD is missing or hd is not a multiple of 4. */
export function attentionKernels(hd: number): AttentionKernels | null {
  if (!shared.has(hd)) shared.set(hd, newAttentionKernels(hd));
  return shared.get(hd)!;
}
