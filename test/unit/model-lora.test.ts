// LoRA as PEFT does it (src/trainer/model/lora.ts) and `rl-lens export` (src/trainer/model/export.ts, src/cli/export.ts):
// RL Lens logits of a Llama + adapter against an independent float64 numpy reference written from PEFT's semantics
// (test/fixtures/peft_ref.py, reading the HF base folder and the PEFT adapter files itself) for an adapter written by
// hand in PEFT's format and for one RL Lens saved from an interleaved (llama2.c-layout) base; adapters off = base;
// only adapters train; no leaks; KV cache; dropout; PEFT's file names, keys and config fields; export → loadPretrained
// gives the LoRA model's logits (tiny HF base and stories260K, read in place from ../shared); the CLI and its errors.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/trainer/backend';
import { AdamW } from '../../src/trainer/optim';
import { Rng } from '../../src/trainer/rng';
import { Llama, type LlamaConfig } from '../../src/trainer/model/llama';
import { loadHfModel, readSafetensors } from '../../src/trainer/model/hf';
import { permuteForHalfRope } from '../../src/trainer/model/llama2c';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, applyLora, loadLoraAdapter, saveLoraAdapter, type LoraLlama } from '../../src/trainer/model/lora';
import { exportMergedLora } from '../../src/trainer/model/export';
import { loadPretrained } from '../../src/trainer/model/pretrained';
import type { CausalLM } from '../../src/trainer/model/types';
import { folder, llamaHf, maxDiff, rand, writeSafetensors, type T } from '../fixtures/hfFolder';
import { llama2cToTokenizerJson } from '../fixtures/llama2cTokenizer';

const root = path.resolve(__dirname, '../..');
const S260 = path.resolve(__dirname, '../../../shared/models/stories260K');
const skip260 = fs.existsSync(path.join(S260, 'stories260K.bin')) && fs.existsSync(path.join(S260, 'tok512.bin')) ? false : `${S260} not present`;
const numpy = spawnSync('python3', ['-c', 'import numpy']).status === 0;
const skipPy = numpy ? false : 'python3 with numpy not installed';

before(async () => { await initBackend('wasm'); });

const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), `rllens-lora-${p}-`));
const MODULES = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];

function logitsOf(m: CausalLM, ids: number[]): number[][] {
  return tf.tidy(() => m.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits.arraySync()[0]);
}

function peftRef(base: string, adapter: string | undefined, ids: number[]): number[][] {
  const r = spawnSync('python3', [path.join(__dirname, '../fixtures/peft_ref.py'), base, ...(adapter ? [adapter] : [])], { input: JSON.stringify({ ids }), encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { logits: number[][] }).logits;
}

/** Random adapter weights (B nonzero) in the model's layout, so that the adapters change the outputs. */
function randomizeAdapters(m: LoraLlama, seed: number, scale = 0.2): void {
  const rng = new Rng(seed);
  const w = m.getAdapterWeights();
  for (const k of Object.keys(w)) w[k] = rand(rng, w[k].shape, scale);
  m.setAdapterWeights(w);
}

const GQA_CONFIG = { model_type: 'llama', vocab_size: 13, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu' };
const gqaBase = () => folder(GQA_CONFIG, llamaHf({ V: 13, D: 16, F: 24, L: 2, H: 4, K: 2, bias: false, tied: false }, 1), 'F32');

/**
 * A PEFT adapter folder written by hand in PEFT's format (not with the code under test): keys
 * base_model.model.<module>.lora_A.weight [r, in] / .lora_B.weight [out, r], adapter_config.json fields.
 */
function peftAdapter(dims: { D: number; F: number; H: number; K: number; L: number }, cfg: Record<string, unknown>, layers: number[], modules: string[], seed: number): string {
  const dir = tmp('peft');
  const rng = new Rng(seed), hd = dims.D / dims.H, r = cfg.r as number;
  const io: Record<string, [number, number]> = {
    'self_attn.q_proj': [dims.D, dims.H * hd], 'self_attn.k_proj': [dims.D, dims.K * hd], 'self_attn.v_proj': [dims.D, dims.K * hd], 'self_attn.o_proj': [dims.H * hd, dims.D],
    'mlp.gate_proj': [dims.D, dims.F], 'mlp.up_proj': [dims.D, dims.F], 'mlp.down_proj': [dims.F, dims.D],
  };
  const t: Record<string, T> = {};
  for (const l of layers) for (const m of modules) {
    const [din, dout] = io[m];
    t[`base_model.model.model.layers.${l}.${m}.lora_A.weight`] = rand(rng, [r, din], 0.3);
    t[`base_model.model.model.layers.${l}.${m}.lora_B.weight`] = rand(rng, [dout, r], 0.3);
  }
  writeSafetensors(path.join(dir, 'adapter_model.safetensors'), t, 'F32');
  fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', task_type: 'CAUSAL_LM', bias: 'none', fan_in_fan_out: false, lora_dropout: 0.1, ...cfg }));
  return dir;
}

test('a PEFT adapter written by hand on a tiny GQA llama: logits equal the float64 PEFT reference (≤ 1e-4)', { skip: skipPy }, () => {
  const base = gqaBase();
  const ids = [1, 5, 2, 9, 0, 7, 3, 12];
  const cases = [
    { name: 'all seven modules, r 4, alpha 8', cfg: { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, layers: [0, 1], modules: MODULES },
    { name: 'q_proj + v_proj of layer 1 only (layers_to_transform), use_rslora, r 3', cfg: { r: 3, lora_alpha: 5, use_rslora: true, target_modules: ['q_proj', 'self_attn.v_proj'], layers_to_transform: [1] }, layers: [1], modules: ['self_attn.q_proj', 'self_attn.v_proj'] },
    { name: 'regex target_modules (mlp only)', cfg: { r: 2, lora_alpha: 16, target_modules: '.*\\.mlp\\.(gate|up|down)_proj' }, layers: [0, 1], modules: ['mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'] },
  ];
  const plain = peftRef(base, undefined, ids);
  for (const c of cases) {
    const adapter = peftAdapter({ D: 16, F: 24, H: 4, K: 2, L: 2 }, c.cfg, c.layers, c.modules, 7);
    const m = loadLoraAdapter(adapter, loadHfModel(base, { trainable: false }).model as Llama);
    const ours = logitsOf(m, ids), ref = peftRef(base, adapter, ids);
    const d = maxDiff(ours, ref), effect = maxDiff(ref, plain);
    console.log(`# ${c.name}: max |Δlogit| vs PEFT reference = ${d.toExponential(2)} (the adapter moves logits by up to ${effect.toFixed(3)})`);
    assert.ok(effect > 0.05, `the adapter must change the logits (${effect})`);
    assert.ok(d <= 1e-4, `${c.name}: max |Δlogit| = ${d}`);
    m.dispose();
  }
});

const tiny: LlamaConfig = { vocabSize: 13, contextLength: 24, dModel: 16, hiddenDim: 24, nLayers: 2, nHeads: 4, nKvHeads: 2 };

/** HF folder of a Llama written by the test: rotate-half (permuteForHalfRope for an interleaved model), nn.Linear [out, in]. */
function hfFolderOf(m: Llama): string {
  const c = m.config, w = m.getWeights(), hf: Record<string, T> = {};
  for (const [name, t0] of Object.entries(w)) {
    let t = t0;
    if (c.ropeLayout === 'interleaved' && /[qk]_proj\.weight$/.test(name)) t = permuteForHalfRope(t, name.includes('q_proj') ? c.nHeads : c.nKvHeads);
    if (/_proj\.weight$|^lm_head/.test(name)) {
      const [r, cc] = t.shape, o = new Float32Array(r * cc);
      for (let i = 0; i < r; i++) for (let j = 0; j < cc; j++) o[j * r + i] = t.data[i * cc + j];
      hf[name] = { shape: [cc, r], data: o };
    } else hf[name] = t;
  }
  return folder({ model_type: 'llama', vocab_size: c.vocabSize, hidden_size: c.dModel, intermediate_size: c.hiddenDim, num_hidden_layers: c.nLayers, num_attention_heads: c.nHeads, num_key_value_heads: c.nKvHeads, max_position_embeddings: c.contextLength, rms_norm_eps: c.rmsNormEps, rope_theta: c.ropeTheta, tie_word_embeddings: c.tieEmbeddings }, hf, 'F32');
}

test('an adapter RL Lens saves from an interleaved (llama2.c-layout) base applies to the HF-layout base: PEFT reference (≤ 1e-4)', { skip: skipPy }, () => {
  const base = Llama.create({ ...tiny, ropeLayout: 'interleaved' }, 5);
  const hfBase = hfFolderOf(base);
  const m = applyLora(base, { r: 4, alpha: 12 }, { seed: 3 });
  randomizeAdapters(m, 11);
  const dir = tmp('saved');
  saveLoraAdapter(dir, m, { baseModelNameOrPath: hfBase });
  const ids = [1, 4, 2, 8, 11, 3, 0, 6, 5];
  const d = maxDiff(logitsOf(m, ids), peftRef(hfBase, dir, ids));
  console.log(`# interleaved base, saved adapter on the HF-layout base: max |Δlogit| vs PEFT reference = ${d.toExponential(2)}`);
  assert.ok(d <= 1e-4, `max |Δlogit| = ${d}`);
  m.dispose();
});

test('adapters off = the base exactly; fresh adapters (B = 0) = the base exactly; A ~ U(−1/√in, 1/√in) as PEFT', () => {
  const base = Llama.create(tiny, 2);
  const ids = [3, 1, 4, 1, 5, 9, 2, 6];
  const before0 = logitsOf(base, ids);
  const m = applyLora(base, { r: 4, alpha: 8 });
  assert.deepEqual(logitsOf(m, ids), before0, 'B = 0: the adapted model computes exactly what the base does');
  for (const [k, t] of Object.entries(m.getAdapterWeights())) {
    if (k.endsWith('lora_B.weight')) assert.ok(t.data.every((v) => v === 0), `${k} starts at zero`);
    else {
      const bound = 1 / Math.sqrt(t.shape[0]);
      const max = Math.max(...t.data.map(Math.abs));
      assert.ok(max <= bound && max > 0.5 * bound, `${k}: |A| ≤ 1/√in = ${bound} (max ${max})`);
    }
  }
  randomizeAdapters(m, 4);
  const ref = m.referenceView();
  assert.notDeepEqual(logitsOf(m, ids), before0);
  assert.deepEqual(logitsOf(ref, ids), before0, 'the reference view is the base, bit for bit');
  assert.deepEqual(ref.trainableVariables(), []);
  assert.throws(() => ref.copyWeightsFrom(m), /reference view shares the policy's frozen base/);
  ref.dispose(); // frees nothing shared
  assert.deepEqual(logitsOf(m.referenceView(), ids), before0, 'the base still works after the view was disposed');
  m.dispose();
});

test('only the adapters train: trainableVariables, an AdamW step changes adapters and leaves the base bit for bit; no tensor leaks', () => {
  const m = applyLora(Llama.create(tiny, 6).withValueHead(), { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'] });
  const vars = m.trainableVariables();
  assert.equal(vars.length, 2 * 3 * tiny.nLayers + 2, 'A and B of 3 modules × 2 layers, plus the value head');
  assert.ok(vars.every((v) => /lora_[AB]$|value_head\.(weight|bias)$/.test(v.name)), vars.map((v) => v.name).join(', '));
  assert.ok([...m.base.weights].every(([n, v]) => v.trainable === n.startsWith('value_head.')), 'base weights frozen');
  const base0 = m.base.getWeights(), ad0 = m.getAdapterWeights();
  const opt = new AdamW(vars, {});
  const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]], undefined, 'int32');
  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.add(tf.neg(tf.mean(m.tokenLogprobs(ids).logprobs)), tf.mean(tf.square(tf.sub(m.forward(ids, { values: true }).values!, 1)))) as tf.Scalar, vars);
    opt.apply(grads, 1e-2);
    value.dispose(); tf.dispose(grads);
  };
  step(); step();
  const n2 = tf.memory().numTensors;
  step(); step();
  assert.equal(tf.memory().numTensors, n2, 'no tensors left behind across steps');
  const base1 = m.base.getWeights(), ad1 = m.getAdapterWeights();
  for (const [k, t] of Object.entries(base0)) {
    if (k.startsWith('value_head.')) continue;
    assert.deepEqual(base1[k].data, t.data, `base tensor ${k} unchanged`);
  }
  assert.ok(!base1['value_head.bias'].data.every((v, i) => v === base0['value_head.bias'].data[i]), 'the value head trains');
  for (const [k, t] of Object.entries(ad0)) assert.ok(t.data.some((v, i) => v !== ad1[k].data[i]), `adapter tensor ${k} changed`);
  ids.dispose(); opt.dispose(); m.dispose();
});

test('KV-cache decoding with adapters equals full recompute (≤ 1e-4), left padding; the reference view decodes the base', () => {
  for (const layout of ['interleaved', 'half'] as const) {
    const m = applyLora(Llama.create({ ...tiny, ropeLayout: layout, qkvBias: true }, 3), { r: 3, alpha: 6 });
    randomizeAdapters(m, 9);
    const prompts = [[0, 0, 5, 6, 7], [1, 2, 3, 4, 5]], mask = [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], next = [[8, 9, 1], [2, 10, 4]];
    const decode = (model: CausalLM) => {
      const { cache, logits } = model.prefill(prompts, mask);
      const steps = [tf.tidy(() => tf.logSoftmax(logits).arraySync() as number[][])];
      logits.dispose();
      for (let s = 0; s < next[0].length; s++) {
        const o = model.decodeStep(cache, next.map((r) => r[s]));
        steps.push(tf.tidy(() => tf.logSoftmax(o.logits).arraySync() as number[][]));
        o.logits.dispose(); o.values?.dispose();
      }
      Llama.disposeCache(cache);
      return steps;
    };
    const full = (model: CausalLM) => tf.tidy(() => tf.logSoftmax(model.forward(tf.tensor2d(prompts.map((p, b) => [...p, ...next[b]]), undefined, 'int32'), { attentionMask: tf.tensor2d(mask.map((r) => [...r, 1, 1, 1])) }).logits).arraySync() as number[][][]);
    const worst = (steps: number[][][], lp: number[][][]) => { let w = 0; steps.forEach((st, s) => st.forEach((row, b) => row.forEach((v, k) => { w = Math.max(w, Math.abs(v - lp[b][4 + s][k])); }))); return w; };
    decode(m); full(m); decode(m.referenceView()); // warm-up: the model keeps its causal masks and rotary tables
    const n0 = tf.memory().numTensors;
    const dl = worst(decode(m), full(m)), dr = worst(decode(m.referenceView()), full(m.referenceView())), cross = worst(decode(m), full(m.referenceView()));
    assert.equal(tf.memory().numTensors, n0, 'decoding leaves no tensor behind');
    console.log(`# ${layout}: LoRA KV cache vs full recompute, max |Δ log-prob| = ${dl.toExponential(2)} (reference view ${dr.toExponential(2)})`);
    assert.ok(dl <= 1e-4 && dr <= 1e-4, `${layout}: ${dl}, ${dr}`);
    assert.ok(cross > 1e-2, 'the cache holds the adapted keys / values (decoding with adapters differs from the base)');
    m.dispose();
  }
});

test('dropout acts in training passes only (under a gradient tape, or training = true)', () => {
  const m = applyLora(Llama.create(tiny, 8), { r: 4, alpha: 8, dropout: 0.5 });
  randomizeAdapters(m, 2);
  const ids = [1, 2, 3, 4, 5, 6];
  const a = logitsOf(m, ids), b = logitsOf(m, ids);
  assert.deepEqual(a, b, 'no dropout outside training: deterministic');
  const noDrop = applyLora(Llama.create(tiny, 8), { r: 4, alpha: 8, dropout: 0 });
  noDrop.setAdapterWeights(m.getAdapterWeights());
  assert.deepEqual(logitsOf(noDrop, ids), a, 'eval pass = the model without dropout');
  m.training = true;
  const c = logitsOf(m, ids);
  assert.ok(maxDiff(c, a) > 1e-3, 'training = true: dropout changes the adapter input');
  m.training = 'auto';
  const idsT = tf.tensor2d([ids], undefined, 'int32');
  const lossOf = (model: LoraLlama) => { const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(model.tokenLogprobs(idsT).logprobs)) as tf.Scalar, model.trainableVariables()); const v = value.dataSync()[0]; value.dispose(); tf.dispose(grads); return v; };
  assert.notEqual(lossOf(m), lossOf(noDrop), 'under a gradient tape (auto): dropout on');
  idsT.dispose(); m.dispose(); noDrop.dispose();
});

test('save → load: PEFT file names, keys, shapes, adapter_config.json fields; the loaded model is bit for bit the saved one', () => {
  for (const layout of ['interleaved', 'half'] as const) {
    const base = () => Llama.create({ ...tiny, ropeLayout: layout }, 12);
    const m = applyLora(base(), { r: 4, alpha: 16, dropout: 0.05 });
    randomizeAdapters(m, 13);
    const dir = tmp('save');
    saveLoraAdapter(dir, m, { baseModelNameOrPath: 'karpathy/tinyllamas' });
    assert.deepEqual(fs.readdirSync(dir).sort(), [ADAPTER_CONFIG, ADAPTER_WEIGHTS]);
    // PEFT peft_model.py save_pretrained: `peft_config.inference_mode = True` before writing; PeftConfigMixin.save_pretrained:
    // `writer.write(json.dumps(output_dict, indent=2, sort_keys=True))`; LoraConfig / PeftConfig fields and defaults.
    const text = fs.readFileSync(path.join(dir, ADAPTER_CONFIG), 'utf8');
    const cfg = JSON.parse(text) as Record<string, unknown>;
    assert.equal(text, JSON.stringify(cfg, Object.keys(cfg).sort(), 2), 'sorted keys, indent 2');
    assert.deepEqual(
      { peft_type: cfg.peft_type, task_type: cfg.task_type, r: cfg.r, lora_alpha: cfg.lora_alpha, lora_dropout: cfg.lora_dropout, bias: cfg.bias, fan_in_fan_out: cfg.fan_in_fan_out, inference_mode: cfg.inference_mode, base_model_name_or_path: cfg.base_model_name_or_path, use_rslora: cfg.use_rslora, use_dora: cfg.use_dora, init_lora_weights: cfg.init_lora_weights, modules_to_save: cfg.modules_to_save, target_modules: cfg.target_modules, revision: cfg.revision, auto_mapping: cfg.auto_mapping, rank_pattern: cfg.rank_pattern, alpha_pattern: cfg.alpha_pattern, layers_to_transform: cfg.layers_to_transform },
      { peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 16, lora_dropout: 0.05, bias: 'none', fan_in_fan_out: false, inference_mode: true, base_model_name_or_path: 'karpathy/tinyllamas', use_rslora: false, use_dora: false, init_lora_weights: true, modules_to_save: null, target_modules: ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj'], revision: null, auto_mapping: null, rank_pattern: {}, alpha_pattern: {}, layers_to_transform: null },
    );
    // get_peft_model_state_dict: "the adapter name is removed from the state_dict ... if the adapter name is 'default' and
    // the original key is 'model.q_proj.lora_A.default.weight', the returned key will be 'model.q_proj.lora_A.weight'";
    // PeftModelForCausalLM(LoraModel(LlamaForCausalLM)) → prefix base_model.model. ; lora_A = nn.Linear(in, r) → [r, in]
    const buf = fs.readFileSync(path.join(dir, ADAPTER_WEIGHTS));
    const header = JSON.parse(buf.toString('utf8', 8, 8 + Number(buf.readBigUInt64LE(0)))) as Record<string, { dtype: string; shape: number[] }>;
    assert.deepEqual(header.__metadata__, { format: 'pt' });
    const keys = Object.keys(header).filter((k) => k !== '__metadata__');
    assert.equal(keys.length, 2 * 7 * tiny.nLayers);
    assert.equal(header['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'].dtype, 'F32');
    assert.deepEqual(header['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'].shape, [4, 16], 'lora_A [r, in]');
    assert.deepEqual(header['base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight'].shape, [8, 4], 'k_proj out = 2 kv heads × 4');
    assert.deepEqual(header['base_model.model.model.layers.1.mlp.down_proj.lora_A.weight'].shape, [4, 24]);
    assert.deepEqual(header['base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight'].shape, [24, 4]);
    assert.ok(keys.every((k) => /^base_model\.model\.model\.layers\.[01]\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.lora_[AB]\.weight$/.test(k)), keys.join(', '));
    // load back onto a fresh copy of the base
    const back = loadLoraAdapter(dir, base());
    const ids = [2, 7, 1, 8, 2, 8, 1, 8];
    assert.deepEqual(logitsOf(back, ids), logitsOf(m, ids), `${layout}: same logits`);
    assert.deepEqual(back.getAdapterWeights(), m.getAdapterWeights(), `${layout}: same adapter tensors (rotary permutation undone)`);
    assert.equal(back.lora.dropout, 0.05);
    // a merge into the base keeps the outputs and makes the reference view the policy
    const pre = logitsOf(m, ids);
    m.mergeIntoBase();
    assert.ok(maxDiff(logitsOf(m, ids), pre) <= 1e-5 && maxDiff(logitsOf(m.referenceView(), ids), pre) <= 1e-5, 'merge: policy and reference = the adapted model');
    m.dispose(); back.dispose();
  }
});

test('a value head is saved beside the adapter (value_head.safetensors) and loaded back', () => {
  const m = applyLora(Llama.create(tiny, 4).withValueHead(), { r: 2 });
  tf.tidy(() => { m.base.w('value_head.weight').assign(tf.randomNormal([16, 1], 0, 1, 'float32', 1)); m.base.w('value_head.bias').assign(tf.tensor1d([0.5])); });
  const dir = tmp('vh');
  saveLoraAdapter(dir, m);
  const back = loadLoraAdapter(dir, Llama.create(tiny, 4));
  assert.equal(back.config.valueHead, true);
  assert.deepEqual(back.base.getWeights()['value_head.weight'].data, m.base.getWeights()['value_head.weight'].data);
  assert.ok(back.trainableVariables().some((v) => v.name.endsWith('value_head.bias')));
  m.dispose(); back.dispose();
});

test('bad adapters: errors name the file and the tensor or field', () => {
  const base = gqaBase();
  const load = (dir: string) => () => loadLoraAdapter(dir, loadHfModel(base, { trainable: false }).model as Llama);
  const good = peftAdapter({ D: 16, F: 24, H: 4, K: 2, L: 2 }, { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'] }, [0, 1], ['self_attn.q_proj', 'self_attn.v_proj'], 1);
  const wrongShape = peftAdapter({ D: 32, F: 24, H: 4, K: 2, L: 2 }, { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'] }, [0, 1], ['self_attn.q_proj', 'self_attn.v_proj'], 1);
  assert.throws(load(wrongShape), /adapter_model\.safetensors: tensor base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight has shape \[2,32\] but the base model needs \[2,16\]/);
  const edit = (patch: Record<string, unknown>) => { const d = tmp('bad'); fs.copyFileSync(path.join(good, ADAPTER_WEIGHTS), path.join(d, ADAPTER_WEIGHTS)); fs.writeFileSync(path.join(d, ADAPTER_CONFIG), JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(good, ADAPTER_CONFIG), 'utf8')), ...patch })); return d; };
  assert.throws(load(edit({ target_modules: ['q_proj', 'qkv_proj'] })), /adapter_config\.json: target module "qkv_proj" is unknown/);
  assert.throws(load(edit({ target_modules: ['q_proj', 'lm_head'] })), /adapter_config\.json: target module "lm_head" is not supported/);
  assert.throws(load(edit({ target_modules: ['q_proj'] })), /adapter_model\.safetensors: tensor base_model\.model\.model\.layers\.0\.self_attn\.v_proj\.lora_A\.weight .*is not an adapter of the layers/);
  assert.throws(load(edit({ target_modules: ['q_proj', 'v_proj', 'k_proj'] })), /adapter_model\.safetensors: tensor base_model\.model\.model\.layers\.0\.self_attn\.k_proj\.lora_A\.weight missing/);
  assert.throws(load(edit({ use_dora: true })), /adapter_config\.json: use_dora true is not supported/);
  assert.throws(load(edit({ peft_type: 'IA3' })), /adapter_config\.json: peft_type "IA3" is not supported/);
  const noWeights = edit({}); fs.rmSync(path.join(noWeights, ADAPTER_WEIGHTS));
  assert.throws(load(noWeights), /adapter_model\.safetensors: missing/);
  assert.throws(load(path.join(good, 'nope')), /nope[/\\]adapter_config\.json: missing/);
  assert.throws(() => applyLora(Llama.create(tiny, 1), { targetModules: ['q_proj', 'embed_tokens'] }), /lora: target module "embed_tokens" is not supported/);
  assert.throws(() => applyLora(Llama.create(tiny, 1), { r: 0 }), /lora: r must be a positive integer/);
});

/** A llama2.c tokenizer file (run.c build_tokenizer: max_token_length, then per piece: float score, int32 length, bytes). */
function llama2cTokFile(file: string, pieces: string[]): void {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0].writeInt32LE(Math.max(...pieces.map((p) => Buffer.byteLength(p))));
  pieces.forEach((p, i) => { const h = Buffer.alloc(8); h.writeFloatLE(-i, 0); h.writeInt32LE(Buffer.byteLength(p), 4); parts.push(h, Buffer.from(p)); });
  fs.writeFileSync(file, Buffer.concat(parts));
}

const PIECES = ['<unk>', '\n<s>\n', '\n</s>\n', ' a', ' b', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
/** a llama2.c vocabulary: <unk>, <s>, </s>, the 256 byte pieces, then words */
const LLAMA2C_PIECES = ['<unk>', '\n<s>\n', '\n</s>\n', ...Array.from({ length: 256 }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`), ' a', ' b', 'a', 'b', 'ab'];

test('export: a tiny HF base (tokenizer.json) + adapter → HF folder that loadPretrained reads with the LoRA model\'s logits (≤ 1e-5)', async () => {
  const base = gqaBase();
  fs.writeFileSync(path.join(base, 'tokenizer.json'), JSON.stringify(llama2cToTokenizerJson({ pieces: ['<unk>', '<s>', '</s>', ...PIECES.slice(3)], scores: PIECES.map((_, i) => -i) })));
  fs.writeFileSync(path.join(base, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>' }));
  fs.writeFileSync(path.join(base, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }));
  const p = await loadPretrained(base, { trainable: false });
  const m = applyLora(p.model as Llama, { r: 4, alpha: 8 });
  randomizeAdapters(m, 21);
  const adapter = tmp('ad');
  saveLoraAdapter(adapter, m, { baseModelNameOrPath: base });
  const out = path.join(tmp('out'), 'merged');
  const r = await exportMergedLora({ model: base, adapter, out });
  assert.deepEqual(r.files, ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  assert.equal(r.mergedLayers, 14);
  const hdr = readSafetensors(path.join(out, 'model.safetensors'));
  assert.deepEqual(hdr['model.layers.0.self_attn.k_proj.weight'].shape, [8, 16], 'nn.Linear [out, in]');
  assert.equal((JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { torch_dtype: string }).torch_dtype, 'float32');
  const q = await loadPretrained(out, { trainable: false });
  assert.equal(q.tokenizer.kind, 'huggingface');
  const ids = [1, 5, 2, 9, 0, 7, 3, 12, 4];
  const d = maxDiff(logitsOf(q.model, ids), logitsOf(m, ids));
  console.log(`# export of the tiny HF base: max |Δlogit| merged folder vs LoRA model = ${d.toExponential(2)}`);
  assert.ok(d <= 1e-5, `max |Δlogit| = ${d}`);
  assert.ok(maxDiff(logitsOf(m.referenceView(), ids), logitsOf(m, ids)) > 0.05, 'the adapter matters');
  q.model.dispose(); m.dispose();
});

test('export: stories260K (llama2.c, interleaved) + adapter → HF folder (rotate-half, tokenizer.bin): the LoRA model, in float64 (≤ 1e-5) and float32', { skip: skip260 }, async () => {
  const p = await loadPretrained(S260, { trainable: false });
  const hfBase = hfFolderOf(p.model as Llama); // the HF-layout base, written by the test (HF's q/k permutation)
  const m = applyLora(p.model as Llama, { r: 8, alpha: 16 });
  randomizeAdapters(m, 5, 0.05);
  const adapter = tmp('s260');
  saveLoraAdapter(adapter, m, { baseModelNameOrPath: 'karpathy/tinyllamas' });
  const out = path.join(tmp('s260-out'), 'merged');
  const r = await exportMergedLora({ model: S260, adapter, out });
  assert.deepEqual(r.files, ['config.json', 'model.safetensors', 'tokenizer.bin']);
  assert.equal(r.base.ropeLayout, 'interleaved');
  const q = await loadPretrained(out, { trainable: false });
  assert.equal(q.tokenizer.kind, 'llama2c', 'the tokenizer.bin inside the HF folder is found');
  assert.equal((q.model as Llama).config.ropeLayout, 'half');
  const ids = [1, 403, 407, 261, 378, 270, 13, 300, 44, 9];
  const ours = logitsOf(m, ids), merged = logitsOf(q.model, ids), baseL = logitsOf(m.referenceView(), ids);
  assert.ok(maxDiff(ours, baseL) > 0.05, 'the adapter matters');
  // float64 (numpy, PEFT semantics): the exported folder = the HF-layout base + the saved adapter, up to the float32
  // rounding of the merged weights
  let d64 = NaN;
  if (numpy) {
    const refLora = peftRef(hfBase, adapter, ids), refMerged = peftRef(out, undefined, ids);
    d64 = maxDiff(refMerged, refLora);
    assert.ok(d64 <= 1e-5, `float64: merged folder vs base + adapter, max |Δlogit| = ${d64}`);
    assert.ok(maxDiff(ours, refLora) <= 1e-4, 'RL Lens LoRA model vs the PEFT reference');
  }
  // float32 (RL Lens): the merged folder vs the LoRA model on the interleaved base. Float32 sums in another order
  // (rotate-half vs interleaved rotary pairs, x·W' vs x·W + s·(x·A)·B) put the floor near 1e-5 on this model: the layout
  // conversion alone, without LoRA, differs by 1.1e-5 (model-hf.test.ts).
  const d = maxDiff(merged, ours);
  console.log(`# export of stories260K: max |Δlogit| float64 merged folder vs base + adapter = ${d64.toExponential(2)}; float32 RL Lens merged folder vs LoRA model = ${d.toExponential(2)} (max |logit| ${Math.max(...ours.flat().map(Math.abs)).toFixed(1)}; the adapter moves logits by ${maxDiff(ours, baseL).toFixed(3)})`);
  assert.ok(d <= 3e-5, `float32: max |Δlogit| = ${d}`);
  q.model.dispose(); m.dispose();
});

const entry = path.join(__dirname, 'trainer-cli-entry.ts');
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', entry, 'export', ...args], { cwd: root });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

test('rl-lens export end to end (an HF base with a llama2.c tokenizer.bin), and its errors (exit 1 names the file, exit 2 usage)', async () => {
  const V = LLAMA2C_PIECES.length;
  const base = folder({ ...GQA_CONFIG, vocab_size: V }, llamaHf({ V, D: 16, F: 24, L: 2, H: 4, K: 2, bias: false, tied: false }, 1), 'F32');
  llama2cTokFile(path.join(base, 'tokenizer.bin'), LLAMA2C_PIECES);
  const adapter = peftAdapter({ D: 16, F: 24, H: 4, K: 2, L: 2 }, { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj', 'down_proj'] }, [0, 1], ['self_attn.q_proj', 'self_attn.v_proj', 'mlp.down_proj'], 3);
  const out = path.join(tmp('cli'), 'merged');
  const ok = await cli(['--model', base, '--adapter', adapter, '--out', out, '--backend', 'wasm']);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /merged: config\.json, model\.safetensors, tokenizer\.bin \(6 LoRA layers merged/);
  const q = await loadPretrained(out, { trainable: false });
  const m = loadLoraAdapter(adapter, loadHfModel(base, { trainable: false }).model as Llama);
  const ids = [1, 3, 4, 5, 6, 7, 8, 260, 263];
  assert.ok(maxDiff(logitsOf(q.model, ids), logitsOf(m, ids)) <= 1e-5);
  assert.equal(q.tokenizer.kind, 'llama2c');
  q.model.dispose(); m.dispose();
  // errors
  const again = await cli(['--model', base, '--adapter', adapter, '--out', out]);
  assert.equal(again.code, 1);
  assert.match(again.err, /merged: exists and is not an empty folder/);
  const noWeights = tmp('cli-nw');
  fs.copyFileSync(path.join(adapter, ADAPTER_CONFIG), path.join(noWeights, ADAPTER_CONFIG));
  const missing = await cli(['--model', base, '--adapter', noWeights, '--out', path.join(tmp('o'), 'x')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, new RegExp(`${noWeights.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/adapter_model\\.safetensors: missing`));
  const other = peftAdapter({ D: 16, F: 40, H: 4, K: 2, L: 2 }, { r: 2, lora_alpha: 4, target_modules: ['down_proj'] }, [0, 1], ['mlp.down_proj'], 3);
  const shape = await cli(['--model', base, '--adapter', other, '--out', path.join(tmp('o'), 'x')]);
  assert.equal(shape.code, 1);
  assert.match(shape.err, /adapter_model\.safetensors: tensor base_model\.model\.model\.layers\.0\.mlp\.down_proj\.lora_A\.weight has shape \[2,40\] but the base model needs \[2,24\]/);
  const unknown = tmp('cli-unk');
  fs.copyFileSync(path.join(adapter, ADAPTER_WEIGHTS), path.join(unknown, ADAPTER_WEIGHTS));
  fs.writeFileSync(path.join(unknown, ADAPTER_CONFIG), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj', 'c_attn'] }));
  const unk = await cli(['--model', base, '--adapter', unknown, '--out', path.join(tmp('o'), 'x')]);
  assert.equal(unk.code, 1);
  assert.match(unk.err, /adapter_config\.json: target module "c_attn" is unknown/);
  const usage = await cli(['--model', base, '--out', out]);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--adapter is required/);
});
