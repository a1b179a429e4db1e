/**
 * Training-Free GRPO in the group view (docs/views.md): the experience library the step's rollouts saw (the step
 * header's `experiences`) and the library operations the selected group led to (`experienceOps` with its group id),
 * each with its rationale. Experience text, rationales and prompts come from the model and the extractor: untrusted,
 * set only as text (el → textContent), never as HTML.
 */
import { el } from '../theme';
import { displayText } from '../data/tokens';

interface ExperienceRec { id: string; text: string }
interface OpRec { op: string; id?: string; text?: string; previous?: string; rationale?: string; group?: string; applied?: boolean; reason?: string }

const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);

/** The step's experiences (validated shape; anything else is dropped). */
export function experiencesOf(header: Record<string, unknown>): ExperienceRec[] | undefined {
  const xs = header.experiences;
  if (!Array.isArray(xs)) return undefined;
  return xs.filter((e): e is ExperienceRec => !!e && typeof e === 'object' && typeof (e as ExperienceRec).id === 'string' && typeof (e as ExperienceRec).text === 'string');
}

/** The operations of one group at this step. */
export function groupOps(header: Record<string, unknown>, group: string | undefined): OpRec[] {
  const xs = header.experienceOps;
  if (!Array.isArray(xs) || group === undefined) return [];
  return xs.filter((o): o is OpRec => !!o && typeof o === 'object' && typeof (o as OpRec).op === 'string' && (o as OpRec).group === group);
}

/** One line per operation: "add #3 "?a+b=" — why" (rejected ones say so). */
export function opLine(o: OpRec): string {
  const id = str(o.id) !== undefined ? ` #${o.id}` : '';
  const text = str(o.text) !== undefined && o.op !== 'delete' ? ` ${JSON.stringify(displayText(o.text!))}` : '';
  const prev = str(o.previous) !== undefined && o.op !== 'add' ? ` (was ${JSON.stringify(displayText(o.previous!))})` : '';
  const status = o.applied === false ? ` REJECTED: ${o.reason ?? ''}` : '';
  return `${o.op}${id}${text}${prev}${status} — ${o.rationale ?? ''}`;
}

/** The block under the group's prompt; [] for steps without a library (every other algorithm). */
export function experiencePanel(header: Record<string, unknown>, group: string | undefined): HTMLElement[] {
  const lib = experiencesOf(header);
  if (!lib) return [];
  const ops = groupOps(header, group);
  return [el('div', { cls: 'experiences', attrs: { id: 'group-experiences' } },
    el('span', { cls: 'muted', text: `experience library these rollouts saw (${lib.length})${lib.length ? '' : ': empty'} ` }),
    ...(lib.length ? [el('ol', { attrs: { id: 'experience-list' } }, ...lib.map((e) => el('li', { title: `experience ${e.id}` }, el('code', { text: `#${e.id} ${displayText(e.text)}` }))))] : []),
    el('div', { cls: 'muted', text: ops.length ? 'library operations from this group:' : 'no library operation from this group (not compared: no reward variance)' }),
    ...(ops.length ? [el('ul', { attrs: { id: 'experience-ops' } }, ...ops.map((o) => el('li', { cls: o.applied === false ? 'bad' : '', text: opLine(o) })))] : []),
  )];
}
