/**
 * The group view's multi-turn parts (issue 20): a sample's turns (policy text, tool call, tool result or error, per-turn
 * reward, GiGPO's step group and advantages) and the group's rollout trees (shared prefixes once, branch points with
 * ARPO's entropy rise, each leaf's reward and advantage, Tree-GRPO's intra- / inter-tree advantages). Data from the
 * pure functions in ../data/turns.ts and ../data/tree.ts; model text only ever as textContent (el(..., { text })).
 * Clicking a turn or a tree node (or Enter on it) asks the view to highlight that token span in the heatmap rows.
 */
import type { RolloutSample } from '../../shared/runFormat';
import { anchorText, sampleTurns, turnCounts, type TurnRow } from '../data/turns';
import { leafStats, treeNodes, type RolloutTree, type TreeNode } from '../data/tree';
import { fmt } from '../data/scales';
import { displayText, displayToken } from '../data/tokens';
import { el } from '../theme';

export interface SpanTarget {
  /** the sample whose row is pinned (at `from`) */
  sample: number;
  /** token spans to highlight in that row, [from, to) each */
  spans: [number, number][];
  /** other samples whose rows show the same tokens (a tree's shared prefix): highlighted too */
  also?: number[];
  /** what was clicked, for the status line */
  label: string;
}

/** A GiGPO step (its params, its algorithm, or turns carrying GiGPO's numbers): a sample's stored advantage is then
 *  the episode-level A^E, while the tokens of turn t get A = A^E + ω·A^S_t. */
export function isGigpo(st: { header: { algorithm?: string; params?: Record<string, unknown> }; samples: readonly RolloutSample[] }): boolean {
  if (st.header.params?.advantage === 'gigpo' || st.header.algorithm === 'gigpo') return true;
  return st.samples.some((s) => sampleTurns(s).some((t) => t.episodeAdvantage !== undefined || t.stepAdvantage !== undefined));
}

/** The tooltip of a GiGPO sample's A^E cell: what its turns' tokens got instead ("turn 0: A 1.449 · turn 1: A 0.98"). */
export function gigpoTurnsTitle(s: RolloutSample): string {
  const per = sampleTurns(s).filter((t) => t.advantage !== undefined).map((t) => `turn ${t.index}: A ${fmt(t.advantage, 4)}`);
  return `A^E, the episode-level advantage (not the tokens'). The policy tokens of turn t get A = A^E + ω·A^S_t${per.length ? `: ${per.join(' · ')}` : ' (the turns list)'}`;
}

/** A turn's short description for a samples table cell: "3 turns · 2 calls · 1 bad". */
export function turnsCell(s: RolloutSample): string {
  const c = turnCounts(sampleTurns(s));
  return c.turns ? `${c.turns} turn${c.turns > 1 ? 's' : ''} · ${c.calls} call${c.calls === 1 ? '' : 's'}${c.errors ? ` · ${c.errors} bad` : ''}` : '';
}

/** The turns of sample `index` as a table; a row's click / Enter highlights its policy and environment tokens. */
export function turnsPanel(s: RolloutSample, index: number, onSelect: (t: SpanTarget) => void): HTMLElement {
  const turns = sampleTurns(s);
  const gigpo = turns.some((t) => t.stepGroup !== undefined || t.advantage !== undefined);
  const head = ['turn', 'policy text', 'tool call', 'tool result', 'reward', ...(gigpo ? ['step group', 'R_t', 'A^S', 'A^E', 'A'] : [])];
  const c = turnCounts(turns);
  const rows = turns.map((t) => turnRow(t, index, gigpo, onSelect));
  return el('section', { cls: 'turns', attrs: { id: 'turns', 'data-sample': String(index), 'aria-label': `turns of sample ${index}` } },
    el('h4', { text: `Turns of sample #${index}: ${c.turns} turn(s), ${c.calls} tool call(s)${c.errors ? `, ${c.errors} bad` : ''} · reward ${fmt(s.reward, 4)}${c.turnReward ? ` (per-turn ${fmt(c.turnReward, 3)})` : ''}` }),
    el('div', { cls: 'muted', text: 'click a turn (or Enter) to highlight its tokens in the heatmap row: the policy\'s, then the environment\'s (dimmed, masked out of the loss)' }),
    el('table', { cls: 'turns-table', attrs: { id: 'turns-table' } }, el('tr', {}, ...head.map((h) => el('th', { text: h, ...(HEAD_TITLE[h] ? { attrs: { title: HEAD_TITLE[h] } } : {}) }))), ...rows));
}

const HEAD_TITLE: Record<string, string> = {
  'A^E': 'GiGPO episode-level advantage (the samples table\'s A^E column): the same for every turn of the episode',
  'A^S': 'GiGPO step-level advantage: this turn\'s discounted return R_t against the turns that acted in the same anchor state',
  A: 'A = A^E + ω·A^S: the advantage every policy token of this turn gets',
};

function turnRow(t: TurnRow, sample: number, gigpo: boolean, onSelect: (t: SpanTarget) => void): HTMLElement {
  const bad = t.error !== undefined || t.result === 'err';
  const result = t.result === undefined ? el('span', { cls: 'muted', text: '—' })
    : el('span', {}, el('code', { cls: bad ? 'turn-err' : 'turn-result', text: displayText(t.result) }), ...(t.error ? [el('span', { cls: 'turn-why', text: ` ${reasonText(t.error)}` })] : []));
  const num = (x: number | undefined, d = 4) => el('td', { cls: 'num', text: x === undefined ? '' : fmt(x, d) });
  const tr = el('tr', { cls: `turn-row${bad ? ' bad' : ''}`, attrs: { 'data-turn': String(t.index), tabindex: '0', title: `tokens ${t.start}–${t.end - 1} policy${t.resultEnd !== undefined && t.resultEnd > t.end ? `, ${t.end}–${t.resultEnd - 1} environment` : ''}${t.anchor !== undefined ? ` · state ${anchorText(t.anchor)}` : ''}` } },
    el('td', { text: String(t.index) }),
    el('td', { cls: 'turn-text' }, el('code', { text: displayText(t.text) })),
    el('td', {}, t.call !== undefined ? el('code', { text: `?${displayText(t.call)}=` }) : el('span', { cls: 'muted', text: '—' })),
    el('td', {}, result),
    num(t.reward),
    ...(gigpo ? [el('td', { text: t.stepGroup ?? '' }), num(t.stepReturn), num(t.stepAdvantage), num(t.episodeAdvantage), num(t.advantage)] : []),
  );
  const go = () => {
    const spans: [number, number][] = [[t.start, t.end]];
    if (t.resultEnd !== undefined && t.resultEnd > t.end) spans.push([t.end, t.resultEnd]);
    onSelect({ sample, spans, label: `sample ${sample} turn ${t.index}` });
  };
  tr.addEventListener('click', go);
  tr.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
  return tr;
}

const SEGMENT_CHARS = 48;

/**
 * The group's rollout trees as nested lists (role tree): each node a token span shown once with how many
 * trajectories share it; a branch node names where it left its parent and, for ARPO, the entropy rise that made it
 * branch; a leaf gives its reward and advantage. Arrow keys move between nodes, Enter / click highlights the span.
 */
export function treesPanel(trees: RolloutTree[], samples: readonly RolloutSample[], tokenText: (sample: number, t: number) => string | undefined, threshold: number | undefined, onSelect: (t: SpanTarget) => void): HTMLElement {
  const box = el('section', { cls: 'trees', attrs: { id: 'trees', 'aria-label': 'rollout trees' } },
    el('h4', { text: `Rollout trees: ${trees.length} tree(s), ${trees.reduce((a, t) => a + t.leaves, 0)} trajectories` }));
  for (const t of trees) {
    const st = leafStats(samples, t.samples);
    const ul = el('ul', { cls: 'tree', attrs: { role: 'tree', 'aria-label': `tree ${t.id}` } });
    const items: HTMLElement[] = [];
    const parentOf = new Map<HTMLElement, HTMLElement>();
    const add = (n: TreeNode, into: HTMLElement, parentLi?: HTMLElement) => {
      const li = nodeItem(n, samples, tokenText, threshold);
      items.push(li);
      if (parentLi) parentOf.set(li, parentLi);
      into.appendChild(li);
      if (n.children.length) {
        li.setAttribute('aria-expanded', 'true');
        const sub = el('ul', { attrs: { role: 'group' } });
        li.appendChild(sub);
        for (const c of n.children) add(c, sub, li);
      }
      const target = (): SpanTarget => {
        const to = n.to > n.from ? n.to : n.from + 1;
        return { sample: n.leaf ?? n.owner, spans: [[n.from, Math.min(to, samples[n.leaf ?? n.owner]?.length ?? to)]], also: n.samples.filter((j) => j !== (n.leaf ?? n.owner)), label: `tree ${t.id} node ${n.key}` };
      };
      const row = li.firstElementChild as HTMLElement;
      row.addEventListener('click', (e) => { e.stopPropagation(); focusItem(items, li); onSelect(target()); });
      (li as HTMLElement & { __target?: () => SpanTarget }).__target = target;
    };
    add(t.root, ul);
    if (items[0]) items[0].tabIndex = 0;
    ul.addEventListener('keydown', (e) => {
      const cur = items.findIndex((x) => x === document.activeElement);
      if (cur < 0) return;
      let next = -1;
      switch (e.key) {
        case 'ArrowDown': next = Math.min(items.length - 1, cur + 1); break;
        case 'ArrowUp': next = Math.max(0, cur - 1); break;
        case 'Home': next = 0; break;
        case 'End': next = items.length - 1; break;
        case 'ArrowRight': { const c = items[cur].querySelector(':scope > ul > li') as HTMLElement | null; next = c ? items.indexOf(c) : cur; break; }
        case 'ArrowLeft': { const p = parentOf.get(items[cur]); next = p ? items.indexOf(p) : cur; break; }
        case 'Enter': case ' ': { e.preventDefault(); e.stopPropagation(); const f = (items[cur] as HTMLElement & { __target?: () => SpanTarget }).__target; if (f) onSelect(f()); return; }
        default: return;
      }
      e.preventDefault(); e.stopPropagation();
      focusItem(items, items[next]);
    });
    box.appendChild(el('div', { cls: 'tree-box', attrs: { 'data-tree': t.id } },
      el('div', { cls: 'tree-head', text: `tree ${t.id} · ${t.leaves} trajectories · ${t.branchPoints} branch point(s)${t.branches !== t.branchPoints ? ` (${t.branches} branches ↳: several leave at one point)` : ''} · leaf reward mean ${fmt(st.mean, 4)}${Number.isFinite(st.std) ? ` ± ${fmt(st.std, 3)}` : ''}` }),
      ...t.problems.map((p) => el('div', { cls: 'tree-problem', text: `⚠ ${p}` })),
      ul));
  }
  return box;
}

function focusItem(items: HTMLElement[], li: HTMLElement): void {
  for (const x of items) x.tabIndex = -1;
  li.tabIndex = 0;
  li.focus();
}

/** Why a call was bad: the environment's sentence, readable — its spaces kept as spaces (not ␣), while control,
 *  bidi and zero-width characters are still made visible piece by piece (displayText); set as text only. */
function reasonText(raw: string): string {
  return raw.split(' ').map((w) => displayText(w)).join(' ');
}

function segmentText(n: TreeNode, tokenText: (sample: number, t: number) => string | undefined): string | undefined {
  let s = '';
  for (let t = n.from; t < n.to; t++) {
    const x = tokenText(n.owner, t);
    if (x === undefined) return undefined;
    s += displayToken(x).text;
    if (s.length > SEGMENT_CHARS) return `${s.slice(0, SEGMENT_CHARS - 1)}…`;
  }
  return s;
}

function nodeItem(n: TreeNode, samples: readonly RolloutSample[], tokenText: (sample: number, t: number) => string | undefined, threshold: number | undefined): HTMLElement {
  const parts: HTMLElement[] = [];
  if (n.branch) {
    const b = n.branch.info;
    const arpo: string[] = [];
    if (b.entropy !== undefined) arpo.push(`H ${fmt(b.entropy, 3)}${b.entropyInitial !== undefined ? ` (initial ${fmt(b.entropyInitial, 3)})` : ''}`);
    if (b.entropyDelta !== undefined) arpo.push(`ΔH ${fmt(b.entropyDelta, 3)}`);
    const thr = b.threshold ?? threshold;
    // P_t = α + β·ΔH_t: with α drawn per decision (the ARPO code), p differs between branches with the same ΔH, so α is shown
    const alpha = b.alpha !== undefined && b.branchProb !== undefined ? ` = α ${fmt(b.alpha, 3)} + β·ΔH ${fmt(b.branchProb - b.alpha, 3)}` : '';
    if (b.branchProb !== undefined) arpo.push(`p ${fmt(b.branchProb, 3)}${alpha}${thr !== undefined ? ` ${b.branchProb > thr ? '>' : '≤'} τ ${fmt(thr, 3)}` : ''}`);
    const mark = `↳ #${n.branch.sample} branches at token ${n.branch.at}${b.branchTurn !== undefined ? ` (turn ${b.branchTurn})` : ''}${b.node ? ` · node ${b.node}` : ''}${arpo.length ? ` · ${arpo.join(' · ')}` : ''}`;
    parts.push(el('div', { cls: 'branch-mark', text: mark, attrs: { title: mark } }));
  }
  const txt = n.to > n.from ? segmentText(n, tokenText) : '';
  if (n.to > n.from) parts.push(el('code', { cls: 'seg', text: txt ?? '…' }), el('span', { cls: 'muted', text: ` tokens ${n.from}–${n.to - 1}` }));
  // an empty root: some trajectory branches at token 0 (regenerated from the prompt), so no tokens are stored as
  // shared by all of them — their texts may still be equal, so do not claim that they differ
  else if (n.children.length) parts.push(el('span', { cls: 'muted', text: `root: ${n.samples.length} trajectories, branched at token 0 (regenerated from the prompt), so no prefix is shared by all` }));
  if (n.samples.length > 1 && n.to > n.from) parts.push(el('span', { cls: 'shared', text: ` shared by ${n.samples.length}` }));
  if (n.leaf !== undefined) {
    const s = samples[n.leaf];
    const tr = (s?.tree ?? {}) as { advIntra?: unknown; advInter?: unknown };
    const adv = typeof s?.advantage === 'number' ? ` · A ${fmt(s.advantage, 4)}` : '';
    const tg = typeof tr.advIntra === 'number' || typeof tr.advInter === 'number' ? ` (intra ${fmt(Number(tr.advIntra), 3)} + inter ${fmt(Number(tr.advInter), 3)})` : '';
    parts.push(el('span', { cls: 'leaf', text: ` ● leaf #${n.leaf} · r ${fmt(s?.reward, 4)}${adv}${tg}` }));
  }
  const kind = n.branch ? 'branch' : n.leaf !== undefined ? 'leaf' : 'prefix';
  return el('li', { cls: `tree-item ${kind}`, attrs: { role: 'treeitem', tabindex: '-1', 'data-node': n.key, 'data-sample': String(n.leaf ?? n.owner), 'data-kind': kind,
    ...(n.branch ? { 'data-branch': String(n.branch.sample) } : {}), ...(n.leaf !== undefined ? { 'data-leaf': String(n.leaf) } : {}) } },
    el('div', { cls: 'tree-node' }, ...parts));
}
