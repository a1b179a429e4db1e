/**
 * How a run is named wherever the user must tell runs apart (Runs tree, output channel, status bar, notifications,
 * webview run pickers): its name, when it started, and a suffix when two runs started in the same second. Pure (no
 * `vscode`), unit-tested.
 *
 *   "grpo-arithmetic · 14:03:05"          started today
 *   "grpo-arithmetic · Jan 2 14:03:05"    another day (the year when not this year)
 *   "grpo-arithmetic · 14:03:05 #2"       its folder got the "-2" counter (same name, same second)
 */
import * as path from 'path';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** Local start time, short: "14:03:05" today, "Jan 2 14:03:05" this year, "Jan 2 2025 14:03:05" before. */
export function startStamp(t: Date, now = new Date()): string {
  const time = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  if (t.getFullYear() === now.getFullYear() && t.getMonth() === now.getMonth() && t.getDate() === now.getDate()) return time;
  return `${MONTHS[t.getMonth()]} ${t.getDate()}${t.getFullYear() === now.getFullYear() ? '' : ` ${t.getFullYear()}`} ${time}`;
}

/** "#N" when the run folder ends in a uniqueness counter after its time stamp (`…-20260102-030405-2`), else "". */
export function folderSuffix(dir: string): string {
  const m = /-\d{8}-\d{6}-(\d+)$/.exec(path.basename(dir));
  return m ? `#${m[1]}` : '';
}

/** Start time from the folder name (`…-YYYYMMDD-HHMMSS[-N]`, local time, as newRunDirName writes it). */
export function folderStartTime(dir: string): Date | undefined {
  const m = /-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(?:-\d+)?$/.exec(path.basename(dir));
  if (!m) return undefined;
  const d = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export interface RunLabelInput {
  dir: string;
  /** manifest name (or the config's) */
  name?: string;
  id?: string;
  /** ISO time or epoch ms, for folders whose name holds no time stamp */
  startedAt?: string | number;
}

/** The run's label: name · start time [#N]. A run without a name is its folder name (which holds the time already). */
export function runDisplayLabel(r: RunLabelInput, now = new Date()): string {
  const base = path.basename(r.dir);
  const name = r.name ?? r.id ?? base;
  if (!r.name && (!r.id || r.id === base) && folderStartTime(r.dir)) return base;
  // the folder's stamp first: it is fixed when the run is created, so the supervisor (before the trainer wrote its
  // manifest) and the tree (manifest startedAt, a second later) print the same time
  const t = folderStartTime(r.dir) ?? (r.startedAt !== undefined ? new Date(r.startedAt) : undefined);
  const parts = [name];
  if (t && !Number.isNaN(t.getTime())) parts.push(startStamp(t, now));
  const label = parts.join(' · ');
  const suffix = folderSuffix(r.dir);
  return suffix ? `${label} ${suffix}` : label;
}
