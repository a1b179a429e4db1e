/**
 * Token text for display. Tokens come from models and other people's logs: they are shown as TEXT only
 * (canvas fillText / textContent), and made visible here: whitespace, control characters, bidi controls and
 * zero-width characters become visible symbols, so what is drawn is what the token contains.
 * Pure (no DOM).
 */

/** Bidi formatting characters (they can reorder the text around them: "Trojan Source"). */
const BIDI: Record<number, string> = {
  0x202a: 'LRE', 0x202b: 'RLE', 0x202c: 'PDF', 0x202d: 'LRO', 0x202e: 'RLO',
  0x2066: 'LRI', 0x2067: 'RLI', 0x2068: 'FSI', 0x2069: 'PDI', 0x200e: 'LRM', 0x200f: 'RLM', 0x061c: 'ALM',
};
/** Zero-width and invisible characters. */
const INVISIBLE: Record<number, string> = {
  0x200b: 'ZWSP', 0x200c: 'ZWNJ', 0x200d: 'ZWJ', 0x2060: 'WJ', 0xfeff: 'BOM', 0x00ad: 'SHY', 0x180e: 'MVS',
  0x2061: 'FA', 0x2062: 'IT', 0x2063: 'IS', 0x2064: 'IP', 0x034f: 'CGJ',
};

export interface DisplayToken {
  /** what to draw (safe to show: no control/bidi/invisible characters left) */
  text: string;
  /** the token was a special token like <eos> / <pad> / <|endoftext|> */
  special: boolean;
  /** the token contained characters that were replaced by visible markers */
  escaped: boolean;
}

const SPECIAL_RE = /^(<\|[^|<>]{1,40}\|>|<\/?(s|eos|bos|pad|unk|mask|sep|cls|eot|im_start|im_end)>|\[(PAD|EOS|BOS|UNK|CLS|SEP|MASK)\])$/i;

/** Make one token visible: ' ' → '␣', '\n' → '↵', '\t' → '⇥', controls → Control Pictures, bidi/zero-width → ⟨NAME⟩. */
export function displayToken(raw: string): DisplayToken {
  if (SPECIAL_RE.test(raw)) return { text: raw, special: true, escaped: false };
  let out = '';
  let escaped = false;
  for (const ch of raw) {
    const c = ch.codePointAt(0)!;
    if (ch === ' ') { out += '␣'; escaped = true; } else if (ch === '\n') { out += '↵'; escaped = true; } else if (ch === '\r') { out += '␍'; escaped = true; } else if (ch === '\t') { out += '⇥'; escaped = true; } else if (c < 0x20) { out += String.fromCodePoint(0x2400 + c); escaped = true; } else if (c === 0x7f) { out += '␡'; escaped = true; } else if (c >= 0x80 && c < 0xa0) { out += `⟨U+${c.toString(16).toUpperCase().padStart(4, '0')}⟩`; escaped = true; } else if (BIDI[c]) { out += `⟨${BIDI[c]}⟩`; escaped = true; } else if (INVISIBLE[c]) { out += `⟨${INVISIBLE[c]}⟩`; escaped = true; } else if (c >= 0xe000 && c <= 0xf8ff) { out += `⟨U+${c.toString(16).toUpperCase()}⟩`; escaped = true; } else if (c === 0xfffd) { out += '�'; } else out += ch;
  }
  if (raw.length === 0) { out = '∅'; escaped = true; }
  return { text: out, special: false, escaped };
}

/** Make a whole string visible (for completions / prompts shown in text): same markers, but newlines kept as ↵ + newline. */
export function displayText(raw: string): string {
  return raw.split('\n').map((line) => displayToken(line).text.replace(/^∅$/, '')).join('↵\n');
}

/** Code points of a string as U+XXXX list (for the hover card: shows exactly what the token holds). */
export function codePoints(raw: string): string {
  return [...raw].map((ch) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`).join(' ');
}
