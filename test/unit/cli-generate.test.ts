// `rl-lens generate` as a user runs it (subprocess): only the completion on stdout; stories260K greedy from BOS is
// llama2.c's documented story, from a folder, a .bin and a hub id (loopback HF_ENDPOINT); a Hugging Face folder of
// each family runs with its tokenizer.json; bad input: exit 1 with the file named, exit 2 for bad usage.
import { test, after, before } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hubServer, MODELS } from '../fixtures/hubServer';
import { llama2cToTokenizerJson, readLlama2cTokenizer } from '../fixtures/llama2cTokenizer';
import { encodeSafetensors } from '../../src/trainer/checkpoint';
import { Llama } from '../../src/trainer/model/llama';
import { GPT } from '../../src/trainer/model/gpt';
import { initBackend } from '../../src/trainer/backend';

const root = path.resolve(__dirname, '../..');
const entry = path.join(__dirname, 'trainer-cli-entry.ts');
const S260 = path.join(MODELS, 'stories260K');
const skip = fs.existsSync(path.join(S260, 'tok512.bin')) ? false : `${S260} not present`;

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', entry, 'generate', ...args], { cwd: root, env: { ...process.env, ...env } });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/** llama2.c doc/stories260K.md (karpathy/llama2.c), `./run stories260K/stories260K.bin -z stories260K/tok512.bin -t 0.0`. */
const DOCUMENTED_START = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.';
const DOCUMENTED_END = 'Her mom said, "Don\'t worry, Lily. We can help you.';

before(async () => { await initBackend('wasm'); }); // the test writes checkpoints with the model classes

const closers: (() => Promise<void>)[] = [];
after(async () => { for (const c of closers) await c(); });

test('generate: stories260K at temperature 0 prints exactly the documented story (folder, .bin, hub id)', { skip }, async () => {
  const a = await cli(['--model', S260, '--temperature', '0']);
  assert.equal(a.code, 0, a.err);
  assert.ok(a.out.startsWith(DOCUMENTED_START) && a.out.endsWith(DOCUMENTED_END), JSON.stringify(a.out.slice(0, 80)));
  const b = await cli(['--model', path.join(S260, 'stories260K.bin'), '--temperature', '0']);
  assert.equal(b.out, a.out);
  const srv = await hubServer();
  closers.push(srv.close);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-gen-hf-'));
  const c = await cli(['--model', 'hf:karpathy/tinyllamas/stories260K', '--temperature', '0'], { RL_LENS_MODELS: '', HF_HOME: home, HF_ENDPOINT: srv.url });
  assert.equal(c.code, 0, c.err);
  assert.equal(c.out, a.out, 'the hub id gives the same model (sha256-pinned files)');
  // a local copy of the repo (RL_LENS_MODELS), no cache, offline: found there, pins checked
  const c2 = await cli(['--model', 'hf:karpathy/tinyllamas/stories260K', '--temperature', '0'], { RL_LENS_MODELS: path.dirname(S260), HF_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-gen-empty-')), HF_HUB_OFFLINE: '1' });
  assert.equal(c2.code, 0, c2.err);
  assert.equal(c2.out, a.out);
  // a prompt: only the completion is printed, and it continues the prompt
  const d = await cli(['--model', S260, '--temperature', '0', '--prompt', 'Tom had a red', '--max-new-tokens', '12']);
  assert.equal(d.code, 0, d.err);
  assert.ok(!d.out.includes('Tom had a red') && d.out.length > 0, JSON.stringify(d.out));
  // sampling: seeded, reproducible, different from greedy
  const e1 = await cli(['--model', S260, '--temperature', '1', '--top-p', '0.9', '--seed', '7', '--max-new-tokens', '40']);
  const e2 = await cli(['--model', S260, '--temperature', '1', '--top-p', '0.9', '--seed', '7', '--max-new-tokens', '40']);
  assert.equal(e1.out, e2.out);
  assert.ok(!a.out.startsWith(e1.out));
});

test('generate: Hugging Face folders of the llama and gpt2 families run with their tokenizer.json', { skip }, async () => {
  const tokJson = llama2cToTokenizerJson(readLlama2cTokenizer(path.join(S260, 'tok512.bin')));
  for (const family of ['llama', 'gpt2'] as const) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rllens-gen-${family}-`));
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokJson));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>' }));
    if (family === 'llama') {
      const m = Llama.create({ vocabSize: 512, contextLength: 64, dModel: 16, hiddenDim: 24, nLayers: 1, nHeads: 2, nKvHeads: 1, tieEmbeddings: true }, 1);
      const w: Record<string, { shape: number[]; data: Float32Array }> = {};
      for (const [n, t] of Object.entries(m.getWeights())) { // back to nn.Linear [out, in]
        if (!/_proj\.weight$/.test(n)) { w[n] = t; continue; }
        const [r, c] = t.shape, o = new Float32Array(r * c);
        for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) o[j * r + i] = t.data[i * c + j];
        w[n] = { shape: [c, r], data: o };
      }
      m.dispose();
      fs.writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(w));
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', vocab_size: 512, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, tie_word_embeddings: true, rms_norm_eps: 1e-5 }));
    } else {
      const m = GPT.create({ vocabSize: 512, contextLength: 64, dModel: 16, nHeads: 2, nLayers: 1 }, 2);
      const { ['lm_head.weight']: _head, ...w } = m.getWeights();
      m.dispose();
      fs.writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(w));
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', vocab_size: 512, n_embd: 16, n_layer: 1, n_head: 2, n_positions: 64 }));
      void _head;
    }
    const r = await cli(['--model', dir, '--prompt', 'Once upon a time', '--temperature', '0', '--max-new-tokens', '10']);
    assert.equal(r.code, 0, `${family}: ${r.err}`);
    const again = await cli(['--model', dir, '--prompt', 'Once upon a time', '--temperature', '0', '--max-new-tokens', '10']);
    assert.equal(again.out, r.out, `${family}: greedy is deterministic`);
  }
});

test('generate: bad input is a clear error (exit 1 names the file; exit 2 for usage)', async () => {
  const missing = await cli(['--model', '/nonexistent/model']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /\/nonexistent\/model: no such file or folder/);
  assert.equal(missing.out, '', 'nothing on stdout');
  const usage = await cli(['--temperature', '0']);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--model is required/);
  const bad = await cli(['--model', 'x', '--top-p', '2']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--top-p must be in \(0, 1\]/);
});
