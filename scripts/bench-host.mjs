// Extension-host benchmark (no VS Code, no browser): throughput of the trainer-event parser
// (src/host/eventParser.ts) on the `--events stdout` channel. Run: node --import tsx scripts/bench-host.mjs [--out FILE]
// (npm run bench runs it). Writes bench-results/host.json (machine noted). Not a test: prints numbers; the behaviour
// (every event parsed, in order, from 64 KiB chunks) is checked in test/unit/host-eventParser.test.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { EventLineParser } = await import(path.join(root, 'src/host/eventParser.ts'));
const args = process.argv.slice(2);
const out = args.includes('--out') ? args[args.indexOf('--out') + 1] : path.join(root, 'bench-results', 'host.json');
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const r2 = (x) => Math.round(x * 100) / 100;

const results = { machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}`, node: process.version, loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 10) / 10) }, date: new Date().toISOString() };

// ---- event parser: 20k step events with 25 metrics each, fed in 64 KiB chunks (as a pipe delivers them)
const N = 20000, CHUNK = 65536, REPS = 7;
const lines = Array.from({ length: N }, (_, i) => JSON.stringify({ type: 'step', time: '2026-01-01T00:00:00Z', step: i, metrics: Object.fromEntries(Array.from({ length: 25 }, (_, k) => [`metric/${k}`, i * k * 1e-3])) }) + '\n');
const buf = Buffer.from(lines.join(''), 'utf8');
const runOnce = () => {
  const p = new EventLineParser();
  let n = 0;
  for (let at = 0; at < buf.length; at += CHUNK) for (const g of p.push(buf.subarray(at, at + CHUNK))) if (g.kind === 'event') n++;
  for (const g of p.end()) if (g.kind === 'event') n++;
  if (n !== N) throw new Error(`event parser: ${n} events parsed, expected ${N}`);
};
runOnce(); // warm-up (JIT)
const ms = [];
for (let r = 0; r < REPS; r++) { const t = performance.now(); runOnce(); ms.push(performance.now() - t); }
const m = med(ms);
results.eventParser = {
  events: N, bytes: buf.length, chunkBytes: CHUNK, repetitions: REPS,
  msMedian: r2(m), usPerEvent: r2((m * 1000) / N), eventsPerSecond: Math.round(N / (m / 1000)), MBps: r2(buf.length / 2 ** 20 / (m / 1000)),
  note: 'a trainer emits a few events per second; the parser is O(bytes) (no re-scanning of partial lines)',
};
console.log(`event parser: ${N} events (${(buf.length / 1e6).toFixed(1)} MB) in ${m.toFixed(1)} ms (median of ${REPS}) = ${results.eventParser.usPerEvent} µs/event, ${results.eventParser.MBps} MB/s`);

results.machine.loadAverageAtEnd = os.loadavg().map((x) => Math.round(x * 10) / 10);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
console.log(`written: ${path.relative(root, out)}`);
