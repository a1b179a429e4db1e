/**
 * llama2.c's tokenizer (karpathy/llama2.c `run.c`: build_tokenizer, encode, decode), a SentencePiece-style BPE
 * driven by piece scores. File (`tok512.bin`, `tokenizer.bin`): int32 max_token_length, then per piece: float32 score,
 * int32 byte length, the piece's bytes. Piece 0 `<unk>`, 1 `<s>` (BOS), 2 `</s>` (EOS), `<0x00>`..`<0xFF>` at 3..258
 * are byte fallback.
 *
 * encode (run.c): [BOS] + (text non-empty: the piece " ", the "dummy prefix") + one piece per UTF-8 character (a
 * character with no piece becomes its bytes' fallback pieces, byte + 3), then repeatedly merge the adjacent pair whose
 * concatenation is a piece with the highest score (first such pair on ties) until no pair merges; [EOS] if asked.
 * decode (run.c): a piece after BOS loses its leading space; `<0xHH>` pieces are the raw byte.
 */
import * as fs from 'fs';

export const LLAMA2C_BOS = 1;
export const LLAMA2C_EOS = 2;
export const LLAMA2C_UNK = 0;

const utf8 = new TextEncoder();

export class Llama2cTokenizer {
  readonly pieces: Uint8Array[];
  readonly scores: Float32Array;
  readonly maxTokenLength: number;
  readonly bos = LLAMA2C_BOS;
  readonly eos = LLAMA2C_EOS;
  /** piece bytes (latin1 string as a map key) → id (the first id when a piece repeats, as bsearch over sorted pieces) */
  private readonly lookup = new Map<string, number>();

  constructor(pieces: Uint8Array[], scores: Float32Array, maxTokenLength: number) {
    this.pieces = pieces;
    this.scores = scores;
    this.maxTokenLength = maxTokenLength;
    pieces.forEach((p, i) => { const k = key(p); if (!this.lookup.has(k)) this.lookup.set(k, i); });
  }

  get vocabSize(): number { return this.pieces.length; }

  /** Read a llama2.c tokenizer file; `vocabSize` (from the model) checks the piece count when given. */
  static fromFile(file: string, vocabSize?: number): Llama2cTokenizer {
    let buf: Buffer;
    try { buf = fs.readFileSync(file); } catch (e) { throw new Error(`${file}: cannot read the llama2.c tokenizer (${(e as Error).message})`); }
    const tok = Llama2cTokenizer.parse(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file);
    if (vocabSize !== undefined && tok.vocabSize !== vocabSize) {
      throw new Error(`${file}: the tokenizer has ${tok.vocabSize} pieces but the model's vocab_size is ${vocabSize}: they do not belong together (pass the tokenizer the model was trained with)`);
    }
    return tok;
  }

  static parse(bytes: Uint8Array, file = 'tokenizer'): Llama2cTokenizer {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < 4) throw new Error(`${file}: too short for a llama2.c tokenizer`);
    const maxLen = dv.getInt32(0, true);
    const pieces: Uint8Array[] = [], scores: number[] = [];
    let off = 4;
    while (off < bytes.byteLength) {
      if (off + 8 > bytes.byteLength) throw new Error(`${file}: truncated at byte ${off} (piece ${pieces.length}: score and length need 8 bytes)`);
      const score = dv.getFloat32(off, true), len = dv.getInt32(off + 4, true);
      off += 8;
      if (len < 0 || off + len > bytes.byteLength) throw new Error(`${file}: piece ${pieces.length} at byte ${off - 8} claims ${len} bytes, ${bytes.byteLength - off} left`);
      pieces.push(bytes.slice(off, off + len));
      scores.push(score);
      off += len;
    }
    if (pieces.length < 259) throw new Error(`${file}: ${pieces.length} pieces; a llama2.c tokenizer has <unk>, <s>, </s> and 256 byte pieces at least`);
    return new Llama2cTokenizer(pieces, Float32Array.from(scores), maxLen);
  }

  private id(bytes: Uint8Array): number { return this.lookup.get(key(bytes)) ?? -1; }

  /** Token ids of `text` (run.c encode). */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const tokens: number[] = [];
    if (opts.bos) tokens.push(LLAMA2C_BOS);
    const bytes = utf8.encode(text);
    if (bytes.length) {
      const sp = this.id(utf8.encode(' '));
      if (sp >= 0) tokens.push(sp);
    }
    // one piece per UTF-8 character (at most 4 bytes), else byte fallback
    for (let i = 0; i < bytes.length;) {
      let j = i + 1;
      while (j < bytes.length && (bytes[j] & 0xc0) === 0x80 && j - i < 4) j++;
      const ch = bytes.subarray(i, j);
      const id = this.id(ch);
      if (id >= 0) tokens.push(id);
      else for (const b of ch) tokens.push(b + 3);
      i = j;
    }
    // merge the best-scoring adjacent pair until none merges
    for (;;) {
      let best = -1e10, bestId = -1, bestIdx = -1;
      for (let i = 0; i + 1 < tokens.length; i++) {
        const a = this.pieces[tokens[i]], b = this.pieces[tokens[i + 1]];
        const m = new Uint8Array(a.length + b.length);
        m.set(a); m.set(b, a.length);
        const id = this.id(m);
        if (id >= 0 && this.scores[id] > best) { best = this.scores[id]; bestId = id; bestIdx = i; }
      }
      if (bestIdx < 0) break;
      tokens.splice(bestIdx, 2, bestId);
    }
    if (opts.eos) tokens.push(LLAMA2C_EOS);
    return tokens;
  }

  /** Bytes of one token as run.c `decode(prev, token)` prints them. */
  pieceBytes(prev: number, token: number): Uint8Array {
    let p = this.pieces[token];
    if (!p) throw new Error(`llama2c tokenizer: token id ${token} outside the vocabulary (0..${this.vocabSize - 1})`);
    if (prev === LLAMA2C_BOS && p[0] === 0x20) p = p.subarray(1);
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(latin1(p));
    return m ? Uint8Array.of(parseInt(m[1], 16)) : p;
  }

  /** Text of a token sequence (BOS / EOS dropped; byte pieces joined before UTF-8 decoding). */
  decode(ids: ArrayLike<number>, prev = LLAMA2C_BOS): string {
    const parts: Uint8Array[] = [];
    let p = prev;
    for (let i = 0; i < ids.length; i++) {
      const t = ids[i];
      if (t !== LLAMA2C_BOS && t !== LLAMA2C_EOS) parts.push(this.pieceBytes(p, t));
      p = t;
    }
    const n = parts.reduce((a, b) => a + b.length, 0);
    const all = new Uint8Array(n);
    let o = 0;
    for (const x of parts) { all.set(x, o); o += x.length; }
    return new TextDecoder('utf-8').decode(all);
  }

  /**
   * One display string per token: the piece's text; a byte piece `<0xHH>` as the character its bytes make (an ASCII
   * byte alone, e.g. "\n" for <0x0A>; a UTF-8 sequence spread over several byte pieces on its first piece, "" on the
   * others), so the strings join to the decoded text; a byte that starts no valid sequence keeps its `<0xHH>` name.
   */
  display(ids: ArrayLike<number>): string[] {
    const dec = new TextDecoder('utf-8', { fatal: true });
    const byteOf = (t: number): number | undefined => { const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(latin1(this.pieces[t] ?? new Uint8Array())); return m ? parseInt(m[1], 16) : undefined; };
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const b = byteOf(ids[i]);
      if (b === undefined) { out.push(new TextDecoder('utf-8').decode(this.pieces[ids[i]] ?? new Uint8Array())); continue; }
      const len = b < 0x80 ? 1 : b >= 0xf0 && b < 0xf8 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
      const seq: number[] = [b];
      for (let j = 1; j < len && i + j < ids.length; j++) { const c = byteOf(ids[i + j]); if (c === undefined) break; seq.push(c); }
      let ch: string | undefined;
      if (len > 0 && seq.length === len) { try { ch = dec.decode(Uint8Array.from(seq)); } catch { ch = undefined; } }
      if (ch === undefined) { out.push(latin1(this.pieces[ids[i]])); continue; }
      out.push(ch);
      for (let j = 1; j < len; j++) out.push('');
      i += len - 1;
    }
    return out;
  }
}

function latin1(b: Uint8Array): string { let s = ''; for (const x of b) s += String.fromCharCode(x); return s; }
function key(b: Uint8Array): string { return latin1(b); }
