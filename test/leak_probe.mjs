import * as fs from 'node:fs';
import { parquetReadObjects } from 'hyparquet';
process.on('unhandledRejection', (e) => { console.log('LEAK', e.stack.split('\n').slice(0,6).join('\n')); });
const pq = fs.readFileSync('/work/main/test/fixtures/importers/trl/Qwen2-0.5B-GRPO/completions/completions_00001.parquet');
let seed = 1; const r = () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
for (let c = 0; c < 300; c++) {
  const b = Buffer.from(pq);
  for (let k = 0; k < 4; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
  try { await parquetReadObjects({ file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) }); } catch (e) {}
}
await new Promise((res) => setTimeout(res, 200));
