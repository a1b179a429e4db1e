// Hugging Face model folders (config.json + safetensors, single or sharded, F32 / F16 / BF16): tiny random checkpoints
// of each family written here in Hugging Face's layout (llama with GQA, qwen2 with q/k/v biases, gpt2 with the
// `transformer.` prefix and a tied head), RL Lens logits against an independent float64 Python forward
// (test/fixtures/hf_ref.py) within 1e-4; stories260K written as an HF folder (permuted q/k, rotate-half) gives the
// same logits as its llama2.c `.bin`; bad folders give errors that name the file and the tensor or field.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/trainer/backend';
import { Rng } from '../../src/trainer/rng';
import { Llama } from '../../src/trainer/model/llama';
import { loadHfModel, readHfConfig } from '../../src/trainer/model/hf';
import { readLlama2c, toHalfRopeLayout } from '../../src/trainer/model/llama2c';
import { folder, llamaHf, maxDiff, rand, writeSafetensors, type Dtype, type T } from '../fixtures/hfFolder';

const python = spawnSync('python3', ['--version']).status === 0;
const BIN = path.resolve(__dirname, '../../../shared/models/stories260K/stories260K.bin');

before(async () => { await initBackend('wasm'); });

function gpt2Hf(c: { V: number; D: number; L: number; H: number; ctx: number }, seed: number): Record<string, T> {
  const rng = new Rng(seed), D = c.D;
  const w: Record<string, T> = { 'transformer.wte.weight': rand(rng, [c.V, D], 0.5), 'transformer.wpe.weight': rand(rng, [c.ctx, D], 0.1) };
  for (let l = 0; l < c.L; l++) {
    const p = `transformer.h.${l}.`;
    Object.assign(w, {
      [p + 'ln_1.weight']: rand(rng, [D], 0.1, 1), [p + 'ln_1.bias']: rand(rng, [D], 0.05),
      [p + 'attn.c_attn.weight']: rand(rng, [D, 3 * D]), [p + 'attn.c_attn.bias']: rand(rng, [3 * D], 0.05),
      [p + 'attn.c_proj.weight']: rand(rng, [D, D]), [p + 'attn.c_proj.bias']: rand(rng, [D], 0.05),
      [p + 'ln_2.weight']: rand(rng, [D], 0.1, 1), [p + 'ln_2.bias']: rand(rng, [D], 0.05),
      [p + 'mlp.c_fc.weight']: rand(rng, [D, 4 * D]), [p + 'mlp.c_fc.bias']: rand(rng, [4 * D], 0.05),
      [p + 'mlp.c_proj.weight']: rand(rng, [4 * D, D]), [p + 'mlp.c_proj.bias']: rand(rng, [D], 0.05),
      // older GPT-2 checkpoints carry the causal-mask buffer: a loader must ignore it
      [p + 'attn.bias']: { shape: [1, 1, c.ctx, c.ctx], data: new Float32Array(c.ctx * c.ctx).fill(1) },
    });
  }
  w['transformer.ln_f.weight'] = rand(rng, [D], 0.1, 1);
  w['transformer.ln_f.bias'] = rand(rng, [D], 0.05);
  return w;
}

function ourLogits(dir: string, ids: number[]): number[][] {
  const { model } = loadHfModel(dir, { trainable: false });
  const out = tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits.arraySync()[0]);
  model.dispose();
  return out;
}

const cases: { name: string; config: Record<string, unknown>; tensors: () => Record<string, T>; dtype: Dtype; shards: number }[] = [
  {
    name: 'llama, GQA (4 query / 2 kv heads), separate head, F32',
    config: { model_type: 'llama', vocab_size: 13, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu' },
    tensors: () => llamaHf({ V: 13, D: 16, F: 24, L: 2, H: 4, K: 2, bias: false, tied: false }, 1), dtype: 'F32', shards: 1,
  },
  {
    name: 'qwen2, q/k/v biases, tied head, rope_theta 1e6, BF16 in 3 shards',
    config: { model_type: 'qwen2', vocab_size: 11, hidden_size: 16, intermediate_size: 20, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 1, max_position_embeddings: 64, rms_norm_eps: 1e-6, rope_theta: 1000000, tie_word_embeddings: true, hidden_act: 'silu' },
    tensors: () => llamaHf({ V: 11, D: 16, F: 20, L: 2, H: 4, K: 1, bias: true, tied: true }, 2), dtype: 'BF16', shards: 3,
  },
  {
    name: 'gpt2, transformer. prefix, tied head, F16',
    config: { model_type: 'gpt2', vocab_size: 17, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 12, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new' },
    tensors: () => gpt2Hf({ V: 17, D: 16, L: 2, H: 2, ctx: 12 }, 3), dtype: 'F16', shards: 1,
  },
];

for (const c of cases) {
  test(`HF folder, ${c.name}: logits equal the float64 Python reference (≤ 1e-4)`, { skip: !python && 'python3 not installed' }, () => {
    const dir = folder(c.config, c.tensors(), c.dtype, c.shards);
    const ids = [1, 5, 2, 9, 0, 7, 3];
    const r = spawnSync('python3', [path.join(__dirname, '../fixtures/hf_ref.py'), dir], { input: JSON.stringify({ ids }), encoding: 'utf8', maxBuffer: 1 << 24 });
    assert.equal(r.status, 0, r.stderr);
    const d = maxDiff(ourLogits(dir, ids), (JSON.parse(r.stdout) as { logits: number[][] }).logits);
    console.log(`# ${c.name}: max |Δlogit| = ${d.toExponential(2)}`);
    assert.ok(d <= 1e-4, `max |Δlogit| = ${d}`);
  });
}

test('stories260K as a Hugging Face folder (permuted q/k, rotate-half, [out, in]) gives the .bin logits (≤ 1e-4; float32 sums in another order)', { skip: fs.existsSync(BIN) ? false : 'stories260K not present' }, () => {
  const ck = readLlama2c(BIN), half = toHalfRopeLayout(ck);
  const hf: Record<string, T> = {};
  for (const [name, w] of Object.entries(half.weights)) {
    if (/_proj\.weight$/.test(name)) { // back to nn.Linear's [out, in]
      const [r, cc] = w.shape, out = new Float32Array(r * cc);
      for (let i = 0; i < r; i++) for (let j = 0; j < cc; j++) out[j * r + i] = w.data[i * cc + j];
      hf[name] = { shape: [cc, r], data: out };
    } else hf[name] = w;
  }
  const c = ck.config;
  const dir = folder({ model_type: 'llama', vocab_size: c.vocabSize, hidden_size: c.dModel, intermediate_size: c.hiddenDim, num_hidden_layers: c.nLayers, num_attention_heads: c.nHeads, num_key_value_heads: c.nKvHeads, max_position_embeddings: c.contextLength, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true, hidden_act: 'silu' }, hf, 'F32');
  const ids = [1, 403, 407, 261, 378, 270, 13, 300, 44, 9];
  const orig = Llama.fromWeights(ck.config, ck.weights, false);
  const a = tf.tidy(() => orig.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits.arraySync()[0]);
  orig.dispose();
  const d = maxDiff(ourLogits(dir, ids), a);
  console.log(`# stories260K HF folder vs .bin: max |Δlogit| = ${d.toExponential(2)}`);
  assert.ok(d <= 1e-4, `max |Δlogit| = ${d}`);
});

test('HF folders: errors name the file and the field or tensor', () => {
  const base = cases[0];
  const dir = folder(base.config, base.tensors(), 'F32');
  assert.throws(() => readHfConfig(path.join(dir, 'nope')), /nope[/\\]config\.json: missing/);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...base.config, model_type: 'bert' }));
  assert.throws(() => readHfConfig(dir), /config\.json: model_type "bert" is not supported; supported: llama, qwen2, mistral, smollm, gpt2/);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...base.config, rope_scaling: { rope_type: 'llama3', factor: 8 } }));
  assert.throws(() => readHfConfig(dir), /rope_scaling .* is not supported/);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...base.config, model_type: 'mistral', sliding_window: 4096 }));
  assert.match(readHfConfig(dir).notes.join(' '), /sliding_window 4096 is ignored/);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(base.config));
  const t = base.tensors();
  delete t['model.layers.1.mlp.up_proj.weight'];
  writeSafetensors(path.join(dir, 'model.safetensors'), t, 'F32');
  assert.throws(() => loadHfModel(dir), /tensor model\.layers\.1\.mlp\.up_proj\.weight missing/);
  const t2 = base.tensors();
  t2['model.norm.weight'] = { shape: [8], data: new Float32Array(8) };
  writeSafetensors(path.join(dir, 'model.safetensors'), t2, 'F32');
  assert.throws(() => loadHfModel(dir), /model\.norm\.weight .* has shape \[8\] but the config needs \[16\]/);
  fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.alloc(5));
  assert.throws(() => loadHfModel(dir), /model\.safetensors: 5 bytes, too short/);
  fs.rmSync(path.join(dir, 'model.safetensors'));
  fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'x');
  assert.throws(() => loadHfModel(dir), /no model\.safetensors .*found pytorch_model\.bin: PyTorch pickles are not read/);
});
