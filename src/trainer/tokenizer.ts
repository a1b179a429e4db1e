/**
 * Character-level tokenizer for the built-in tasks. Every token is one character or a special token, so every
 * token can be shown as a string (`display`). Ids: 0 = PAD, 1 = BOS, 2 = EOS, then the characters of `chars` in order.
 */
export const PAD = 0;
export const BOS = 1;
export const EOS = 2;
export const SPECIALS = ['<pad>', '<bos>', '<eos>'] as const;

/** The default alphabet: every character of the built-in tasks (arithmetic, reverse, sort, count) plus '?' and space. 29 tokens with the specials. */
export const DEFAULT_CHARS = '0123456789+-=:?abcdefghrs ';

export interface TokenizerSpec {
  type: 'char';
  vocab: string[];
  bos: number;
  eos: number;
  pad: number;
  [k: string]: unknown;
}

export class CharTokenizer {
  readonly vocab: string[];
  private readonly index = new Map<string, number>();
  readonly pad = PAD;
  readonly bos = BOS;
  readonly eos = EOS;

  constructor(chars: string = DEFAULT_CHARS) {
    const uniq: string[] = [];
    for (const c of Array.from(chars)) if (!uniq.includes(c)) uniq.push(c);
    this.vocab = [...SPECIALS, ...uniq];
    this.vocab.forEach((t, i) => this.index.set(t, i));
  }

  static fromSpec(spec: { type: string; vocab: string[] }): CharTokenizer {
    if (spec.type !== 'char') throw new Error(`tokenizer: unknown type ${JSON.stringify(spec.type)} (only "char" is supported)`);
    const v = spec.vocab;
    if (v.length < 3 || v[0] !== SPECIALS[0] || v[1] !== SPECIALS[1] || v[2] !== SPECIALS[2]) throw new Error('tokenizer: vocab must start with <pad>, <bos>, <eos>');
    return new CharTokenizer(v.slice(3).join(''));
  }

  get size(): number { return this.vocab.length; }

  spec(): TokenizerSpec { return { type: 'char', vocab: [...this.vocab], bos: BOS, eos: EOS, pad: PAD }; }

  has(ch: string): boolean { return this.index.has(ch) && this.index.get(ch)! >= SPECIALS.length; }

  /** text → ids (no specials added). Throws, naming the character, if it is not in the vocabulary. */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const out: number[] = [];
    if (opts.bos) out.push(BOS);
    for (const ch of Array.from(text)) {
      const id = this.index.get(ch);
      if (id === undefined || id < SPECIALS.length) throw new Error(`tokenizer: character ${JSON.stringify(ch)} is not in the vocabulary ${JSON.stringify(this.vocab.slice(SPECIALS.length).join(''))}`);
      out.push(id);
    }
    if (opts.eos) out.push(EOS);
    return out;
  }

  /** ids → text. Specials are dropped (PAD, BOS) and decoding stops at EOS unless `keepSpecial`. */
  decode(ids: ArrayLike<number>, opts: { keepSpecial?: boolean } = {}): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!opts.keepSpecial) {
        if (id === EOS) break;
        if (id < SPECIALS.length) continue;
      }
      s += this.vocab[id] ?? '\uFFFD';
    }
    return s;
  }

  /** Display string of each token (specials as <pad>/<bos>/<eos>; raw text otherwise: escaping is the viewer's job). */
  display(ids: ArrayLike<number>): string[] {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) out.push(this.vocab[ids[i]] ?? '\uFFFD');
    return out;
  }
}
