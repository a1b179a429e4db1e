/**
 * Built-in presets (`rl-lens train --preset NAME`): the table is src/shared/presets.ts (PRESET_TABLE), the one source
 * the extension's Start Run reads too. `registerPreset` adds or replaces one at load time (tests, plug-ins).
 * Imports no plug-in, so the plug-ins can import it without an import cycle.
 */
import { PRESET_TABLE, defaultPreset } from '../shared/presets';

export { defaultPreset };

export const PRESETS: Record<string, () => Record<string, unknown>> = Object.fromEntries(PRESET_TABLE.map((p) => [p.id, p.make]));

/** Add (or replace) a preset. */
export function registerPreset(name: string, make: () => Record<string, unknown>): void {
  PRESETS[name] = make;
}
