/** The comparison file of `rl-lens compare`: summaries from real run directories, table and a script-free HTML page. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunWriter } from '../../src/runio/writer';
import { renderHtml, renderMarkdown, summariseRun, writeComparison } from '../../src/trainer/rl/compare';

test('summariseRun reads eval and train curves; the HTML escapes names and runs no script', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-cmp-'));
  try {
    const dirs: string[] = [];
    for (const [alg, p1] of [['grpo', [0.3, 0.5]], ['<b>dapo</b>', [0.3, 0.45]]] as const) {
      const dir = path.join(root, alg.replace(/\W/g, ''));
      const w = RunWriter.create(dir, { id: alg, algorithm: alg, config: {} });
      w.evalRecord({ step: 0, passAtK: { 1: p1[0], 8: 0.9 }, samplesPerPrompt: 8, numPrompts: 4 });
      // grpo's run is multi-turn (tool calls executed); the other has none: its tool-call column stays empty
      for (let s = 1; s <= 3; s++) w.metrics({ step: s, values: { 'reward/mean': s / 10, entropy: 1 - s / 10, kl: s / 100, 'tokens/generated': 100 * s, ...(alg === 'grpo' ? { 'env/tool_calls/executed': 10 + s } : {}) } });
      w.evalRecord({ step: 3, passAtK: { 1: p1[1], 8: 1 }, samplesPerPrompt: 8, numPrompts: 4 });
      dirs.push(dir);
    }
    const s = [summariseRun('grpo', dirs[0], 'completed', 12), summariseRun('<b>dapo</b>', dirs[1], 'completed', 13)];
    assert.deepEqual(s[0].passAtK, { start: { 1: 0.3, 8: 0.9 }, end: { 1: 0.5, 8: 1 } });
    assert.deepEqual(s[0].curves['entropy'].map((p) => p.value), [0.9, 0.8, 0.7]);
    assert.deepEqual(s[1].curves['eval/pass@1'], [{ step: 0, value: 0.3 }, { step: 3, value: 0.45 }]);
    const c = { title: 'cmp', createdAt: 'now', config: {}, algorithms: s };
    const md = renderMarkdown(c);
    // pass@k start → end, train reward over the last steps (0.1, 0.2, 0.3), tokens 100 + 200 + 300, tool calls 11 + 12 + 13, entropy
    assert.deepEqual(s[0].budget, { steps: 3, tokens: 600, toolCalls: 36, rewardLast10: (0.1 + 0.2 + 0.3) / 3 });
    assert.equal(s[1].budget!.toolCalls, null);
    assert.match(md, /\| grpo \| completed \| 30\.0 → 50\.0 \| 90\.0 → 100\.0 \| 0\.200 \| 600 \| 36 \| 0\.700 \|/);
    assert.match(md, /\| &lt;b&gt;dapo&lt;\/b&gt; \| completed \| .* \| 600 \| – \| 0\.700 \||\| <b>dapo<\/b> \| completed \| .* \| 600 \| – \| 0\.700 \|/);
    const html = renderHtml(c);
    assert.ok(!html.includes('<b>dapo'), 'algorithm names are escaped');
    assert.ok(!/<script/i.test(html) && html.includes("default-src 'none'"), 'no scripts, strict CSP');
    assert.ok((html.match(/<svg/g) ?? []).length >= 4, 'one chart per curve');
    const files = writeComparison(path.join(root, 'out'), c);
    assert.ok(files.every((f) => fs.existsSync(f)));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
