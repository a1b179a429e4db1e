#!/usr/bin/env python3
"""PyTorch reference for `npm run bench` (src/trainer/benchModels.ts, torchRef.ts): the same shapes, float32, CPU.

usage: torch_ref.py < request.json > answer.json
request: {"case": "stories_grpo_step" | "stories_sample_kv" | "gpt2_fwd_bwd", "threads": N, "iters": N, ...shapes}
answer:  {"case", "threads", "ms" (median wall), "cpuMs" (median process CPU), "all", "torch", "blas", ...}

Cases (the TS side's description in benchModels.ts):
  stories_sample_kv  stories260K (llama2.c .bin, read with test/fixtures/llama2c_ref.py) KV-cache sampling of
                     B = prompts × group completions × newTokens tokens after the given prompts, temperature 1,
                     banned ids never sampled, log-prob and entropy of every sampled token recorded (as sampling.ts).
  stories_grpo_step  sampling as above, then old and ref log-probs (no grad) over [B, P + N], GRPO group advantages
                     (mean / unbiased std, eps 1e-6), one update: log-probs with grad, ratio, clipped loss
                     (seq-mean-token-mean), k3 KL to the reference (coef klCoef) in the loss, backward,
                     clip_grad_norm_(gradClip), AdamW (weight decay 0) step. Phase times in "phases".
  gpt_train_step     the reference GPT (bench.ts REFERENCE_MODEL): forward + backward + clip_grad_norm_(1) + AdamW
                     (weight decay on matrices only) on B × T random tokens.
  gpt2_fwd_bwd       GPT-2 shapes (untied lm_head as the TS GPT), random init N(0, 0.02), forward + backward of the
                     mean next-token NLL on B × T random tokens; peak memory from ru_maxrss.

The model code mirrors src/trainer/model/llama.ts and gpt.ts (pre-norm, interleaved RoPE, GQA by repeat, SwiGLU;
pre-LN GPT-2 with tanh GELU) in ordinary PyTorch (embedding lookups, nn.functional ops, no compile).
"""
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures"))


def blas_libs():
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                if "blas" in line or "mkl" in line:
                    libs.add(line.split()[-1])
    except OSError:
        pass
    return sorted(libs)


def now_cpu():
    return time.perf_counter(), time.process_time()


# ---------------------------------------------------------------- stories260K (Llama 2 arch)

class Llama:
    def __init__(self, path, trainable):
        from llama2c_ref import read_model  # the test fixture's independent llama2.c reader

        m = read_model(path)
        t = lambda x: torch.tensor(x, dtype=torch.float32)
        self.dim, self.hidden, self.n_layers = m["dim"], m["hidden"], m["n_layers"]
        self.n_heads, self.n_kv, self.vocab, self.seq_len = m["n_heads"], m["n_kv"], m["vocab"], m["seq_len"]
        self.hd = self.dim // self.n_heads
        self.params = {"emb": t(m["emb"]), "rms_final": t(m["rms_final"])}
        for name in ("rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3"):
            for l in range(self.n_layers):
                self.params[f"{name}.{l}"] = t(m[name][l])
        for p in self.params.values():
            p.requires_grad_(trainable)
        half = self.hd // 2
        freq = 1.0 / (10000.0 ** (torch.arange(half, dtype=torch.float32) * 2 / self.hd))
        ang = torch.arange(self.seq_len, dtype=torch.float32)[:, None] * freq[None, :]
        self.cos, self.sin = torch.cos(ang), torch.sin(ang)  # [seq_len, hd/2]

    def parameters(self):
        return list(self.params.values())

    @staticmethod
    def rms(x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * g

    def rope(self, x, pos0):
        # x [B, T, heads, hd]; rotate adjacent pairs (llama2.c layout)
        B, T, Hh, hd = x.shape
        c = self.cos[pos0:pos0 + T][None, :, None, :]
        s = self.sin[pos0:pos0 + T][None, :, None, :]
        r = x.view(B, T, Hh, hd // 2, 2)
        a, b = r[..., 0], r[..., 1]
        return torch.stack((a * c - b * s, a * s + b * c), -1).view(B, T, Hh, hd)

    def forward(self, ids, cache=None, pos0=0):
        """ids [B, T] → logits [B, T, V]; with `cache` (a list, filled / extended in place) keys and values are kept."""
        P = self.params
        B, T = ids.shape
        H, K, hd = self.n_heads, self.n_kv, self.hd
        x = P["emb"][ids]
        mask = None
        if T > 1:
            Tk = pos0 + T
            mask = torch.full((T, Tk), float("-inf")).triu(pos0 + 1)
        for l in range(self.n_layers):
            h = self.rms(x, P[f"rms_att.{l}"])
            q = self.rope((h @ P[f"wq.{l}"].t()).view(B, T, H, hd), pos0)
            k = self.rope((h @ P[f"wk.{l}"].t()).view(B, T, K, hd), pos0)
            v = (h @ P[f"wv.{l}"].t()).view(B, T, K, hd)
            k = k.transpose(1, 2)  # [B, K, T, hd]
            v = v.transpose(1, 2)
            if cache is not None:
                if len(cache) > l:
                    k = torch.cat((cache[l][0], k), 2)
                    v = torch.cat((cache[l][1], v), 2)
                    cache[l] = (k, v)
                else:
                    cache.append((k, v))
            rep = H // K
            kr = k.repeat_interleave(rep, 1)  # [B, H, Tk, hd]
            vr = v.repeat_interleave(rep, 1)
            s = (q.transpose(1, 2) @ kr.transpose(2, 3)) / math.sqrt(hd)  # [B, H, T, Tk]
            if mask is not None:
                s = s + mask
            a = torch.softmax(s, -1) @ vr  # [B, H, T, hd]
            x = x + a.transpose(1, 2).reshape(B, T, H * hd) @ P[f"wo.{l}"].t()
            h = self.rms(x, P[f"rms_ffn.{l}"])
            x = x + (F.silu(h @ P[f"w1.{l}"].t()) * (h @ P[f"w3.{l}"].t())) @ P[f"w2.{l}"].t()
        x = self.rms(x, P["rms_final"])
        return x @ P["emb"].t()

    def clone(self, trainable):
        c = object.__new__(Llama)
        c.__dict__.update(self.__dict__)
        c.params = {k: v.detach().clone().requires_grad_(trainable) for k, v in self.params.items()}
        return c


def sample(model, prompts, group, new_tokens, banned, temperature, gen):
    """KV-cache sampling of len(prompts) × group rows: → ids [B, P + N] (prompts of equal length)."""
    rows = [p for p in prompts for _ in range(group)]
    ids = torch.tensor(rows, dtype=torch.long)
    B, P = ids.shape
    out = torch.empty(B, new_tokens, dtype=torch.long)
    logps = torch.empty(B, new_tokens)
    ents = torch.empty(B, new_tokens)
    ban = torch.zeros(model.vocab, dtype=torch.bool)
    ban[banned] = True
    with torch.no_grad():
        cache = []
        logits = model.forward(ids, cache, 0)[:, -1]
        for t in range(new_tokens):
            logp = torch.log_softmax(logits / temperature, -1)
            probs = logp.exp()
            ents[:, t] = -(probs * logp).sum(-1)
            tok = torch.multinomial(probs.masked_fill(ban, 0.0), 1, generator=gen)  # [B, 1]
            out[:, t] = tok[:, 0]
            logps[:, t] = logp.gather(1, tok)[:, 0]
            if t < new_tokens - 1:
                logits = model.forward(tok, cache, P + t)[:, 0]
    return torch.cat((ids, out), 1), logps, ents


def response_logprobs(model, ids, P, entropy=False):
    logits = model.forward(ids)[:, P - 1:-1]  # predicts tokens P .. P+N−1
    logp = torch.log_softmax(logits, -1)
    lp = logp.gather(2, ids[:, P:, None])[..., 0]
    ent = -(logp.exp() * logp).sum(-1) if entropy else None
    return lp, ent


def grpo_step(policy, ref, opt, req, gen):
    P = len(req["prompts"][0])
    N, G = req["newTokens"], req["group"]
    c0 = time.perf_counter()
    ids, _, _ = sample(policy, req["prompts"], G, N, req["banned"], req["temperature"], gen)
    c1 = time.perf_counter()
    with torch.no_grad():
        old, ent = response_logprobs(policy, ids, P, entropy=True)
        ref_lp, _ = response_logprobs(ref, ids, P)
        # reward: a cheap stand-in (share of distinct tokens); groups of G consecutive rows
        score = torch.tensor([len(set(r)) / len(r) for r in ids[:, P:].tolist()])
        g = score.view(-1, G)
        adv_seq = ((g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + 1e-6)).view(-1)
        adv = adv_seq[:, None].expand(-1, N)
        _ = (ent.mean().item(), old.mean().item())
    c2 = time.perf_counter()
    lp, _ = response_logprobs(policy, ids, P)
    ratio = torch.exp(torch.clamp(lp - old, -20, 20))
    pg = torch.maximum(-adv * ratio, -adv * torch.clamp(ratio, 1 - req["clipLow"], 1 + req["clipHigh"]))
    x = torch.clamp(ref_lp - lp, -20, 20)
    k3 = torch.clamp(torch.exp(x) - x - 1, -10, 10)
    loss = pg.mean(1).mean() + req["klCoef"] * k3.mean(1).mean()  # seq-mean-token-mean, no padding here
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), req["gradClip"])
    opt.step()
    loss.item()
    c3 = time.perf_counter()
    return {"sample": (c1 - c0) * 1000, "old_ref": (c2 - c1) * 1000, "update": (c3 - c2) * 1000}


# ---------------------------------------------------------------- GPT-2 shapes

class GPT2:
    def __init__(self, V, ctx, D, H, L, seed=1):
        g = torch.Generator().manual_seed(seed)
        n = lambda *s, std=0.02: (torch.randn(*s, generator=g) * std).requires_grad_()
        z = lambda *s: torch.zeros(*s).requires_grad_()
        o = lambda *s: torch.ones(*s).requires_grad_()
        self.D, self.H, self.L = D, H, L
        self.p = {"wte": n(V, D), "wpe": n(ctx, D), "ln_f.w": o(D), "ln_f.b": z(D), "lm_head": n(V, D)}
        proj_std = 0.02 / math.sqrt(2 * L)
        for l in range(L):
            self.p.update({
                f"{l}.ln_1.w": o(D), f"{l}.ln_1.b": z(D), f"{l}.c_attn.w": n(3 * D, D), f"{l}.c_attn.b": z(3 * D),
                f"{l}.c_proj.w": n(D, D, std=proj_std), f"{l}.c_proj.b": z(D), f"{l}.ln_2.w": o(D), f"{l}.ln_2.b": z(D),
                f"{l}.fc.w": n(4 * D, D), f"{l}.fc.b": z(4 * D), f"{l}.proj.w": n(D, 4 * D, std=proj_std), f"{l}.proj.b": z(D),
            })

    def parameters(self):
        return list(self.p.values())

    def loss(self, ids):
        p, D, H = self.p, self.D, self.H
        B, T = ids.shape
        hd = D // H
        x = p["wte"][ids] + p["wpe"][:T]
        mask = torch.full((T, T), float("-inf")).triu(1)
        for l in range(self.L):
            h = F.layer_norm(x, (D,), p[f"{l}.ln_1.w"], p[f"{l}.ln_1.b"], 1e-5)
            q, k, v = F.linear(h, p[f"{l}.c_attn.w"], p[f"{l}.c_attn.b"]).split(D, -1)
            q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v))
            a = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(hd) + mask, -1) @ v
            x = x + F.linear(a.transpose(1, 2).reshape(B, T, D), p[f"{l}.c_proj.w"], p[f"{l}.c_proj.b"])
            h = F.layer_norm(x, (D,), p[f"{l}.ln_2.w"], p[f"{l}.ln_2.b"], 1e-5)
            x = x + F.linear(F.gelu(F.linear(h, p[f"{l}.fc.w"], p[f"{l}.fc.b"]), approximate="tanh"), p[f"{l}.proj.w"], p[f"{l}.proj.b"])
        x = F.layer_norm(x, (D,), p["ln_f.w"], p["ln_f.b"], 1e-5)
        logits = F.linear(x, p["lm_head"])
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


# ---------------------------------------------------------------- driver

def timed(f, iters):
    f()  # warm-up
    wall, cpu = [], []
    for _ in range(iters):
        w, c = now_cpu()
        r = f()
        w2, c2 = now_cpu()
        wall.append((w2 - w) * 1000)
        cpu.append((c2 - c) * 1000)
    return wall, cpu, r


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def main():
    req = json.load(sys.stdin)
    threads = int(req.get("threads", 1))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    iters = int(req.get("iters", 3))
    case = req["case"]
    ans = {"case": case, "threads": threads, "torch": torch.__version__, "blas": blas_libs(), "iters": iters}
    if case in ("stories_sample_kv", "stories_grpo_step"):
        policy = Llama(req["model"], trainable=True)
        gen = torch.Generator().manual_seed(11)
        if case == "stories_sample_kv":
            f = lambda: sample(policy, req["prompts"], req["group"], req["newTokens"], req["banned"], req["temperature"], gen)
            wall, cpu, _ = timed(f, iters)
        else:
            ref = policy.clone(trainable=False)
            opt = torch.optim.AdamW(policy.parameters(), lr=req["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
            phases = []
            f = lambda: phases.append(grpo_step(policy, ref, opt, req, gen))
            wall, cpu, _ = timed(f, iters)
            ans["phases"] = {k: median([p[k] for p in phases[1:]]) for k in phases[0]}
    elif case == "gpt2_fwd_bwd":
        c = req["config"]
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        m = GPT2(c["vocabSize"], c["contextLength"], c["dModel"], c["nHeads"], c["nLayers"])
        gen = torch.Generator().manual_seed(3)
        ids = torch.randint(0, c["vocabSize"], (req["B"], req["T"]), generator=gen)
        params = m.parameters()
        rss_model = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        def step():
            for p in params:
                p.grad = None
            loss = m.loss(ids)
            loss.backward()
            return loss.item()

        wall, cpu, _ = timed(step, iters)
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        mib = lambda kb: round(kb / 1024, 1)
        ans["memory"] = {
            "parameters": sum(p.numel() for p in params), "rssBeforeModelMiB": mib(rss0), "rssWithModelMiB": mib(rss_model),
            "rssPeakMiB": mib(rss_peak), "rssPeakOverModelMiB": mib(rss_peak - rss_model),
        }
    elif case == "gpt_train_step":
        c = req["config"]
        m = GPT2(c["vocabSize"], c["contextLength"], c["dModel"], c["nHeads"], c["nLayers"])
        gen = torch.Generator().manual_seed(1)
        ids = torch.randint(3, c["vocabSize"], (req["B"], req["T"]), generator=gen)
        params = m.parameters()
        # weight decay on matrices only, as src/trainer/optim.ts
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": req["weightDecay"]},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=req["lr"], betas=(0.9, 0.999), eps=1e-8)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = m.loss(ids)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            return loss.item()

        wall, cpu, _ = timed(step, iters)
    else:
        raise SystemExit(f"unknown case {case}")
    ans.update({"ms": median(wall), "cpuMs": median(cpu), "all": wall})
    json.dump(ans, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
