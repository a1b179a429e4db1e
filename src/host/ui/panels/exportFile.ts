/**
 * Dashboard exports (`export/save`): check what a webview asks to save before a save dialog is shown. No `vscode`
 * import. The webview is less trusted than the host: the file name is reduced to a plain base name with the format's
 * extension, PNG bytes must be base64 of a PNG, sizes are bounded.
 */
import type { ExportFile } from '../../../shared/protocol';

/** Largest export accepted (a panel's CSV or PNG is far smaller). */
export const MAX_EXPORT_BYTES = 32 * 1024 * 1024;
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export interface CheckedExport { fileName: string; bytes: Uint8Array; format: 'csv' | 'png'; filterName: string }

/** Validate an `export/save` request; throws with the reason when it is malformed. */
export function checkExport(p: unknown): CheckedExport {
  const o = (typeof p === 'object' && p !== null ? p : {}) as Partial<Record<keyof ExportFile | 'text' | 'base64', unknown>>;
  if (o.format !== 'csv' && o.format !== 'png') throw new Error(`format must be csv or png, got ${JSON.stringify(o.format)}`);
  const format = o.format;
  let name = typeof o.fileName === 'string' ? o.fileName : '';
  name = name.split(/[\\/]/).pop()!.replace(/[^A-Za-z0-9._ -]+/g, '_').replace(/^[.\s]+/, '').slice(0, 120);
  if (!name.toLowerCase().endsWith(`.${format}`)) name = `${name || 'rl-lens-panel'}.${format}`;
  let bytes: Uint8Array;
  if (format === 'csv') {
    if (typeof o.text !== 'string') throw new Error('csv export: text must be a string');
    bytes = Buffer.from(o.text, 'utf8');
  } else {
    if (typeof o.base64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.base64)) throw new Error('png export: base64 must be base64 text');
    bytes = Buffer.from(o.base64, 'base64');
    if (!PNG_MAGIC.every((b, i) => bytes[i] === b)) throw new Error('png export: not a PNG image');
  }
  if (bytes.byteLength > MAX_EXPORT_BYTES) throw new Error(`export too large (${bytes.byteLength} bytes > ${MAX_EXPORT_BYTES})`);
  return { fileName: name, bytes, format, filterName: format === 'csv' ? 'CSV' : 'PNG image' };
}
