// Host side of the webviews without VS Code: the page's CSP, run-folder checks, step payloads and live follow
// (only new complete lines are read and sent).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { renderWebviewHtml, contentSecurityPolicy, makeNonce } from '../../src/host/ui/panels/html';
import { RunFollower, checkRunDir, getStep } from '../../src/host/ui/panels/dataProvider';
import { makeRun } from '../fixtures/makeRun';
import { toFloat32 } from '../../src/shared/protocol';

test('webview page: strict CSP with a nonce on every script and style, no remote or inline content', () => {
  const nonce = makeNonce();
  assert.match(nonce, /^[A-Za-z0-9]{32}$/);
  assert.notEqual(nonce, makeNonce());
  const html = renderWebviewHtml({ view: 'heatmap', cspSource: 'https://x.vscode-cdn.net', nonce, scriptUri: 'https://x.vscode-cdn.net/dist/webview-main.js', styleUri: 'https://x.vscode-cdn.net/media/webview/main.css', title: 'T <b>' });
  assert.equal(contentSecurityPolicy('S', 'N'), "default-src 'none'; img-src S data:; style-src S 'nonce-N'; script-src 'nonce-N'; font-src S");
  assert.ok(html.includes(`content="${contentSecurityPolicy('https://x.vscode-cdn.net', nonce)}"`));
  const scripts = html.match(/<script[^>]*>/g)!;
  assert.equal(scripts.length, 1);
  assert.ok(scripts.every((s) => s.includes(`nonce="${nonce}"`) && /src="https:\/\/x\.vscode-cdn\.net\//.test(s)));
  assert.ok(!/<script[^>]*>[^<]+<\/script>/.test(html), 'no inline script');
  assert.ok(!/ style=/.test(html), 'no inline style attribute');
  assert.ok(html.includes('<title>T &lt;b&gt;</title>'));
  assert.ok(html.includes('data-view="heatmap"'));
});

test('run folder checks, step payload = the .f32 bytes, follower reads only new complete lines', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-wvh-'));
  try {
    const dir = makeRun({ dir: path.join(tmp, 'r'), algorithm: 'grpo', steps: 10, status: 'running' });
    assert.throws(() => checkRunDir(tmp), /not an RL Lens run folder/);
    assert.throws(() => checkRunDir(42), /runDir must be/);
    assert.throws(() => getStep(dir, -1), /non-negative integer/);
    const p = getStep(dir, 10);
    const bytes = fs.readFileSync(path.join(dir, 'rollouts', 'step_00000010.f32'));
    assert.equal((p.data as ArrayBuffer).byteLength, bytes.length);
    assert.deepEqual(toFloat32(p.data).subarray(0, 8), new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 32)));
    assert.equal(p.samples.length, 24);
    assert.deepEqual(p.problems, []);

    const f = new RunFollower(dir);
    const init = f.initial();
    assert.equal(init.records.length, 10);
    assert.equal(init.evals.length, 1);
    assert.deepEqual(init.rolloutSteps, [5, 10]);
    assert.equal(init.run.status, 'running');
    let q = f.poll();
    assert.deepEqual([q.records.length, q.evals.length, q.newSteps.length, q.statusChanged], [0, 0, 0, false]);
    // a writer appends one full line and half of the next (torn): only the full one is read
    const mfile = path.join(dir, 'metrics.jsonl');
    fs.appendFileSync(mfile, JSON.stringify({ step: 11, values: { kl: 0.1 } }) + '\n' + '{"step": 12, "val');
    q = f.poll();
    assert.deepEqual(q.records.map((r) => r.step), [11]);
    fs.appendFileSync(mfile, 'ues": {"kl": 0.2}}\n');
    q = f.poll();
    assert.deepEqual(q.records.map((r) => r.step), [12]);
    // a new rollout step and a status change are reported once
    fs.copyFileSync(path.join(dir, 'rollouts', 'step_00000010.f32'), path.join(dir, 'rollouts', 'step_00000012.f32'));
    fs.writeFileSync(path.join(dir, 'rollouts', 'step_00000012.jsonl'), fs.readFileSync(path.join(dir, 'rollouts', 'step_00000010.jsonl'), 'utf8').replace('"step":10', '"step":12').replace('step_00000010.f32', 'step_00000012.f32'));
    const man = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...man, status: 'completed' }));
    q = f.poll();
    assert.deepEqual(q.newSteps, [12]);
    assert.equal(q.status, 'completed');
    assert.equal(q.statusChanged, true);
    q = f.poll();
    assert.deepEqual([q.newSteps.length, q.statusChanged], [0, false]);
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});
