import '/work/main/src/trainer/rl/register';
import { resolveConfig } from '/work/main/src/trainer/config';
import { runTraining } from '/work/main/src/trainer/engine';
import * as fs from 'fs';
async function main() {
  const rl = process.argv[2] ?? 'ppo';
  const out = '/tmp/prefdbg/pipe-' + rl; fs.rmSync(out, { recursive: true, force: true });
  const cfg = resolveConfig(JSON.parse(fs.readFileSync('/tmp/prefdbg/pipeline.json', 'utf8').replace('"ppo"', JSON.stringify(rl))));
  const t0 = Date.now();
  const r = await runTraining(cfg, { outDir: out, progress: (l) => { if (!/^\[(sft|reward_model|ppo|grpo)\] step \d+\/\d+/.test(l) || /step \d*0\//.test(l)) console.log(l); } });
  console.log(r.status, r.error, 'secs', (Date.now() - t0) / 1000);
}
main();
