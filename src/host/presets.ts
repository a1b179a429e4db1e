/**
 * Built-in presets for "RL Lens: Start Run…" and the templates of "New config from template".
 * Presets are plain configs written next to the run (rl-lens.config.json) so every run can be re-run.
 * The config format is the trainer's (schemas/config.schema.json); the presets keep to its basic fields.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface Preset {
  id: string;
  label: string;
  detail: string;
  config: Record<string, unknown>;
}

/** Where bundled presets and templates live in the extension (media/templates/*.jsonc). */
export function templatesDir(extensionPath: string): string {
  return path.join(extensionPath, 'media', 'templates');
}

/** Read the preset/template files: `*.jsonc` whose first comment line gives the label (`// label: ...`). */
export function loadTemplates(dir: string): { id: string; label: string; detail: string; file: string; text: string }[] {
  let names: string[] = [];
  try { names = fs.readdirSync(dir).filter((n) => n.endsWith('.jsonc')).sort(); } catch { return []; }
  return names.map((n) => {
    const text = fs.readFileSync(path.join(dir, n), 'utf8');
    const label = /^\s*\/\/\s*label:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? n.replace(/\.jsonc$/, '');
    const detail = /^\s*\/\/\s*detail:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? '';
    return { id: n.replace(/\.jsonc$/, ''), label, detail, file: path.join(dir, n), text };
  });
}

/** A folder name for a new run: `<algorithm>-<task>-YYYYMMDD-HHMMSS` (unique under `parent`). */
export function newRunDirName(parent: string, config: Record<string, unknown>, now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  const algo = typeof config.algorithm === 'string' ? config.algorithm : 'run';
  const taskV = config.task;
  const task = typeof taskV === 'string' ? taskV : (taskV && typeof taskV === 'object' && typeof (taskV as { name?: unknown }).name === 'string') ? (taskV as { name: string }).name : undefined;
  const base = [algo, task, stamp].filter(Boolean).join('-').replace(/[^A-Za-z0-9_.-]+/g, '_');
  let name = base;
  for (let i = 2; fs.existsSync(path.join(parent, name)); i++) name = `${base}-${i}`;
  return name;
}
