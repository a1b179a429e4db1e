"""rl_lens_logger: write RL Lens runs from any Python trainer (standard library only, one file).

Copy this file next to your training script (or ``pip install``-free: ``sys.path.append``) and log metrics, rollouts
with per-token arrays, and eval results into a folder that the RL Lens VS Code extension opens directly
("RL Lens: Open Run...") and that ``npx rl-lens validate RUN_DIR`` accepts. The format is RL Lens's own run format
(docs/run-format.md, src/shared/runFormat.ts), format version 1::

    RUN_DIR/manifest.json            run description, rewritten atomically on status changes
    RUN_DIR/events.jsonl             start / step / rollout / eval / warning / error / end events
    RUN_DIR/metrics.jsonl            {"step", "time", "values": {...}} per line
    RUN_DIR/eval.jsonl               {"step", "passAtK", "samplesPerPrompt", "numPrompts", ...} per line
    RUN_DIR/rollouts/step_00000012.f32    per-token float32 arrays, little-endian (array('f'))
    RUN_DIR/rollouts/step_00000012.jsonl  header line, then one sample per line

Everything is append-only or replaced atomically (temp file + rename), so a run killed at any moment stays readable,
and RL Lens can follow it live while it is being written. No checkpoints are written (your trainer saves its own).

Minimal use::

    from rl_lens_logger import RunLogger

    with RunLogger("runs/gsm8k-grpo", algorithm="grpo", config={"lr": 1e-6, "group_size": 8}) as run:
        for step in range(1, 101):
            ...
            run.log_metrics(step, {"reward/mean": 0.41, "kl": 0.002, "entropy": 0.61})
            run.log_rollouts(step, [
                {"prompt": "2 + 3 = ?", "completion": " 5", "tokens": [" 5", "<eos>"], "reward": 1.0,
                 "reward_parts": {"accuracy": 1.0}, "group": "p0", "advantage": 0.7,
                 "arrays": {"logprob": [-0.1, -0.02], "ref_logprob": [-0.3, -0.05], "advantage": [0.7, 0.7]}},
                ...
            ])
    # leaving the ``with`` block marks the run completed (or failed, with the exception message)

Per-token array names RL Lens knows (any other name is kept and shown too): logprob, old_logprob, ref_logprob, kl,
token_reward, value, return, advantage, ratio, clip (0 none, 1 low, 2 high, 3 dual), entropy, mask. Each array must
have one value per entry of ``tokens``. Values may be lists, tuples, ``array('f')`` or anything with ``.tolist()``
(torch tensors, numpy arrays). NaN / inf are stored as NaN in the arrays and as null in metrics.

Metric names: use RL Lens / TRL / verl style namespaced names so the dashboard groups them: ``reward/mean``,
``reward/std``, ``kl``, ``kl_coef``, ``entropy``, ``clip_ratio/low_mean``, ``clip_ratio/high_mean``,
``response_length/mean``, ``pg_loss``, ``vf_loss``, ``grad_norm``, ``lr``, ``vf_explained_var``.

Example: TRL (a TrainerCallback for metrics, a reward-function wrapper for completions)::

    from transformers import TrainerCallback
    from rl_lens_logger import RunLogger

    run = RunLogger("runs/trl-grpo", algorithm="grpo", config={"model": "Qwen/Qwen2-0.5B-Instruct"})

    class RLLensCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs:
                run.log_metrics(state.global_step, logs, rename=RunLogger.TRL_NAMES)
        def on_train_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                run.finish("completed")

    def logged(reward_func, every=1):
        # wrap a TRL reward function: same signature, also logs the scored completions (no per-token data here)
        def wrapper(prompts, completions, **kwargs):
            rewards = reward_func(prompts, completions, **kwargs)
            state = kwargs.get("trainer_state")  # passed by recent TRL versions
            step = state.global_step if state is not None else run.last_step + 1
            if step % every == 0:
                run.log_rollouts(step, [
                    {"prompt": str(p), "completion": str(c), "reward": float(r), "reward_parts": {reward_func.__name__: float(r)}}
                    for p, c, r in zip(prompts, completions, rewards) if r is not None
                ], merge=True)
            return rewards
        wrapper.__name__ = reward_func.__name__
        return wrapper

    trainer = GRPOTrainer(model=..., reward_funcs=[logged(accuracy_reward)], callbacks=[RLLensCallback()], ...)

Example: verl (inside RayPPOTrainer.fit, after compute_advantage; tensors are [batch, response_len])::

    mask = batch.batch["response_mask"]
    samples = []
    for i in range(len(batch)):
        n = int(mask[i].sum())
        ids = batch.batch["responses"][i][:n].tolist()
        arrays = {"old_logprob": batch.batch["old_log_probs"][i][:n], "advantage": batch.batch["advantages"][i][:n],
                  "token_reward": batch.batch["token_level_rewards"][i][:n], "return": batch.batch["returns"][i][:n]}
        if "ref_log_prob" in batch.batch: arrays["ref_logprob"] = batch.batch["ref_log_prob"][i][:n]
        if "values" in batch.batch: arrays["value"] = batch.batch["values"][i][:n]
        samples.append({"prompt": prompts_text[i], "completion": self.tokenizer.decode(ids),
                        "tokens": [self.tokenizer.decode([t]) for t in ids], "token_ids": ids,
                        "reward": float(batch.batch["token_level_scores"][i].sum()),
                        "group": str(batch.non_tensor_batch["uid"][i]), "arrays": arrays})
    run.log_rollouts(self.global_steps, samples, params={"gamma": 1.0, "lambda": 1.0})
    run.log_metrics(self.global_steps, metrics)  # verl's metrics dict; names like actor/entropy are kept as is

Example: OpenRLHF (after ExperienceMaker.make_experience_list; one Experience holds a micro-batch)::

    for exp in experiences:
        for i in range(exp.sequences.size(0)):
            m = exp.action_mask[i].bool()
            ids = exp.sequences[i][-exp.action_mask.size(1):][m].tolist()
            samples.append({"prompt": prompts[i], "completion": tokenizer.decode(ids),
                            "tokens": tokenizer.convert_ids_to_tokens(ids), "reward": float(exp.info["reward"][i]),
                            "arrays": {"logprob": exp.action_log_probs[i][m], "ref_logprob": exp.base_action_log_probs[i][m],
                                       "value": exp.values[i][m], "advantage": exp.advantages[i][m], "return": exp.returns[i][m]}})
    run.log_rollouts(global_step, samples, compute_kl=True)  # kl = logprob - ref_logprob per token

Only rank 0 should write (guard with ``torch.distributed.get_rank() == 0`` or ``state.is_world_process_zero``),
or give every rank its own run folder.
"""

import json
import math
import os
import sys
import time
import traceback
from array import array
from datetime import datetime, timezone

__all__ = ["RunLogger", "RUN_FORMAT", "RUN_FORMAT_VERSION", "TOKEN_ARRAYS"]

RUN_FORMAT = "rl-lens-run"
RUN_FORMAT_VERSION = 1
TOKEN_ARRAYS = ("logprob", "old_logprob", "ref_logprob", "kl", "token_reward", "value", "return",
                "advantage", "ratio", "clip", "entropy", "mask", "implicit_reward")
_SAMPLE_KEYS = {"prompt", "completion", "tokens", "token_ids", "reward", "reward_parts", "rewardParts", "group",
                "advantage", "truncated", "arrays", "extra"}


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clean(v):
    """JSON-safe copy: NaN/inf -> None, tensors/arrays -> lists, unknown objects -> str."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, array)):
        return [_clean(x) for x in v]
    if hasattr(v, "tolist"):
        return _clean(v.tolist())
    if hasattr(v, "item"):
        try:
            return _clean(v.item())
        except Exception:  # noqa: BLE001 - best effort for foreign scalar types
            pass
    return str(v)


def _floats(v, what):
    """A flat list of floats from a list / tuple / array / tensor (anything with .tolist())."""
    if hasattr(v, "detach"):
        v = v.detach()
    if hasattr(v, "cpu"):
        v = v.cpu()
    if hasattr(v, "tolist") and not isinstance(v, array):
        v = v.tolist()
    try:
        return [float(x) for x in v]
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what}: expected a flat sequence of numbers ({e})") from None


def _write_atomic(path, data):
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.{time.time_ns()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _dumps(v):
    return json.dumps(_clean(v), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _mean_std(xs):
    """Mean and unbiased (n-1) std, as torch.std in GRPO's group normalisation; std 0 for one sample."""
    v = [x for x in xs if math.isfinite(x)]
    if not v:
        return None, None
    m = sum(v) / len(v)
    if len(v) < 2:
        return m, 0.0
    return m, math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


class RunLogger:
    """Writes one RL Lens run folder. Not thread-safe; call from one process (rank 0).

    Args:
        run_dir: folder to create (must not already contain a run: refuses to overwrite).
        algorithm: e.g. "grpo", "ppo", "dapo", "rloo" (any string).
        config: your hyper-parameters (JSON-serialisable values; others are stored as strings).
        name, task, seed, total_steps: optional manifest fields (total_steps enables progress / ETA).
        backend: a short description of where it runs, e.g. "torch-cuda" (default "python").
    """

    #: TRL metric names -> RL Lens names (the originals are kept too)
    TRL_NAMES = {
        "reward": "reward/mean", "reward_std": "reward/std", "completions/mean_length": "response_length/mean",
        "completions/max_length": "response_length/max", "completions/min_length": "response_length/min",
        "completions/clipped_ratio": "response_length/clip_ratio", "learning_rate": "lr",
    }
    #: verl metric names -> RL Lens names (the originals are kept too)
    VERL_NAMES = {
        "critic/score/mean": "reward/mean", "critic/score/max": "reward/max", "critic/score/min": "reward/min",
        "actor/entropy": "entropy", "actor/pg_clipfrac": "clip_ratio/region_mean", "actor/kl_loss": "kl",
        "actor/kl_coef": "kl_coef", "actor/pg_loss": "pg_loss", "critic/vf_loss": "vf_loss",
        "actor/grad_norm": "grad_norm", "actor/lr": "lr", "critic/vf_explained_var": "vf_explained_var",
    }

    def __init__(self, run_dir, algorithm, config=None, name=None, task=None, seed=None, total_steps=None,
                 backend="python"):
        self.dir = os.path.abspath(run_dir)
        os.makedirs(self.dir, exist_ok=True)
        self._manifest_path = os.path.join(self.dir, "manifest.json")
        if os.path.exists(self._manifest_path):
            raise FileExistsError(f"{self._manifest_path} already exists: choose another run folder or delete that run first")
        os.makedirs(os.path.join(self.dir, "rollouts"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "checkpoints"), exist_ok=True)
        self._t0 = time.time()
        self.last_step = 0
        self._finished = False
        self._pending = {}  # step -> samples for log_rollouts(..., merge=True)
        now = _now()
        self.manifest = {
            "format": RUN_FORMAT, "formatVersion": RUN_FORMAT_VERSION,
            "id": os.path.basename(self.dir), "status": "running", "algorithm": str(algorithm),
            "config": _clean(dict(config or {})), "backend": {"name": str(backend)},
            "versions": {"python": sys.version.split()[0], "rl_lens_logger": "1"},
            "startedAt": now, "updatedAt": now, "source": {"format": "python-logger"},
        }
        if name is not None:
            self.manifest["name"] = str(name)
        if task is not None:
            self.manifest["task"] = str(task)
        if seed is not None:
            self.manifest["seed"] = int(seed)
        if total_steps is not None:
            self.manifest["totalSteps"] = int(total_steps)
        self._write_manifest()
        for f in ("events.jsonl", "metrics.jsonl", "eval.jsonl"):
            p = os.path.join(self.dir, f)
            if not os.path.exists(p):
                open(p, "w").close()
        start = {"type": "start", "time": now, "runDir": self.dir, "runId": self.manifest["id"],
                 "algorithm": self.manifest["algorithm"], "backend": self.manifest["backend"], "config": self.manifest["config"]}
        if total_steps is not None:
            start["totalSteps"] = int(total_steps)
        self._event(start)

    # ------------------------------------------------------------------ context manager
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.finish("completed")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish("stopped", reason="KeyboardInterrupt")
        else:
            self.error(f"{exc_type.__name__}: {exc}", "".join(traceback.format_exception(exc_type, exc, tb)))
        return False

    # ------------------------------------------------------------------ low level
    def _write_manifest(self):
        self.manifest["updatedAt"] = _now()
        _write_atomic(self._manifest_path, json.dumps(_clean(self.manifest), ensure_ascii=False, indent=2) + "\n")

    def _append(self, name, obj):
        line = _dumps(obj) + "\n"
        # one write per line on an O_APPEND file: readers see whole lines or a torn tail, never interleaving
        with open(os.path.join(self.dir, name), "a", encoding="utf-8") as f:
            f.write(line)

    def _event(self, e):
        self._append("events.jsonl", e)

    def _bump(self, step):
        step = int(step)
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if step > self.last_step or "step" not in self.manifest:
            self.last_step = max(self.last_step, step)
            self.manifest["step"] = self.last_step
            self._write_manifest()  # small file, atomic: progress for readers following the run
        return step

    # ------------------------------------------------------------------ public API
    def log_metrics(self, step, values, split="train", rename=None):
        """Append one metrics record. Non-numeric values are ignored; NaN/inf are stored as null.

        rename: optional {foreign_name: rl_lens_name} (e.g. RunLogger.TRL_NAMES); originals are kept too.
        """
        step = self._bump(step)
        vals = {}
        for k, v in dict(values).items():
            if hasattr(v, "item"):
                try:
                    v = v.item()
                except Exception:  # noqa: BLE001
                    continue
            if isinstance(v, bool):
                v = 1.0 if v else 0.0
            if not isinstance(v, (int, float)):
                continue
            vals[str(k)] = float(v) if math.isfinite(float(v)) else None
        for src, dst in (rename or {}).items():
            if src in vals and dst not in vals:
                vals[dst] = vals[src]
        rec = {"step": step, "time": round(time.time() - self._t0, 3), "values": vals}
        if split != "train":
            rec["split"] = split
        self._append("metrics.jsonl", rec)
        if split == "train":
            ev = {"type": "step", "time": _now(), "step": step, "metrics": vals}
            if "totalSteps" in self.manifest:
                ev["totalSteps"] = self.manifest["totalSteps"]
            self._event(ev)

    def log_rollouts(self, step, samples, params=None, compute_kl=False, merge=False):
        """Write the rollouts of one step (replaces an earlier write of the same step).

        samples: list of dicts with keys
            prompt (str), completion (str), reward (float),
            tokens (list of str, one per response token; required when arrays are given),
            token_ids (list of int, optional), reward_parts ({name: float}, optional),
            group (str: samples of one prompt share it; default: grouped by identical prompt),
            advantage (float, optional sequence-level advantage), truncated (bool, optional),
            arrays ({name: per-token values}, optional), extra (dict, optional: shown as is).
            Any other key is kept in the sample's "extra".
        params: what the algorithm used (e.g. {"gamma": 1.0, "lambda": 0.95, "beta": 0.04}), shown in drill-downs.
        compute_kl: add kl = logprob - ref_logprob per token when both are given and kl is not.
        merge: add to the samples already logged for this step in this process (e.g. one call per reward function
            batch) instead of replacing them.
        Returns the path of the step's .jsonl file.
        """
        step = self._bump(step)
        samples = list(samples)
        if merge:
            samples = self._pending.get(step, []) + samples
            self._pending = {step: samples}  # keep only the current step in memory
        norm = []
        names = []
        for i, s in enumerate(samples):
            if not isinstance(s, dict):
                raise TypeError(f"log_rollouts(step={step}): sample {i} must be a dict, got {type(s).__name__}")
            for req in ("prompt", "completion", "reward"):
                if req not in s:
                    raise ValueError(f"log_rollouts(step={step}): sample {i} has no '{req}'")
            reward = float(s["reward"])
            tokens = [str(t) for t in (s.get("tokens") or [])]
            arrays = {}
            for k, v in (s.get("arrays") or {}).items():
                vals = _floats(v, f"log_rollouts(step={step}): sample {i} array '{k}'")
                if len(vals) != len(tokens):
                    raise ValueError(f"log_rollouts(step={step}): sample {i} array '{k}' has {len(vals)} values for "
                                     f"{len(tokens)} tokens (pass one value per entry of 'tokens')")
                arrays[str(k)] = vals
            if compute_kl and "kl" not in arrays and "logprob" in arrays and "ref_logprob" in arrays:
                arrays["kl"] = [a - b for a, b in zip(arrays["logprob"], arrays["ref_logprob"])]
            for k in arrays:
                if k not in names:
                    names.append(k)
            out = {"group": None if s.get("group") is None else str(s["group"]), "prompt": str(s["prompt"]),
                   "completion": str(s["completion"]), "tokens": tokens, "reward": reward if math.isfinite(reward) else None,
                   "length": len(tokens)}
            if s.get("token_ids") is not None:
                out["tokenIds"] = [int(t) for t in _floats(s["token_ids"], "token_ids")]
            parts = s.get("reward_parts", s.get("rewardParts"))
            if parts:
                out["rewardParts"] = {str(k): float(v) for k, v in dict(parts).items()}
            if s.get("advantage") is not None:
                out["advantage"] = float(s["advantage"])
            if s.get("truncated") is not None:
                out["truncated"] = bool(s["truncated"])
            extra = dict(s.get("extra") or {})
            for k, v in s.items():
                if k not in _SAMPLE_KEYS:
                    extra[k] = v
            if extra:
                out["extra"] = _clean(extra)
            norm.append((out, arrays))
        known = [n for n in TOKEN_ARRAYS if n in names]
        names = known + sorted(n for n in names if n not in TOKEN_ARRAYS)

        # groups: explicit ids, else identical prompts
        order, members = [], {}
        for i, (out, _) in enumerate(norm):
            key = ("id", out["group"]) if out["group"] is not None else ("prompt", out["prompt"])
            if key not in members:
                members[key] = []
                order.append(key)
            members[key].append(i)
        groups = []
        for gi, key in enumerate(order):
            idx = members[key]
            gid = key[1] if key[0] == "id" else f"g{gi}"
            for i in idx:
                norm[i][0]["group"] = gid
            rewards = [norm[i][0]["reward"] for i in idx]
            mean, std = _mean_std([r for r in rewards if r is not None])
            groups.append({"id": gid, "prompt": norm[idx[0]][0]["prompt"], "samples": idx, "rewards": rewards,
                           "mean": mean, "std": std})

        base = f"step_{step:08d}"
        rdir = os.path.join(self.dir, "rollouts")
        data = array("f")
        lines = []
        off = 0
        for i, (out, arrays) in enumerate(norm):
            n = out["length"]
            for name in names:
                vals = arrays.get(name)
                data.extend(vals if vals is not None else [math.nan] * n)
            sample = {"kind": "sample", "index": i}
            sample.update(out)
            if names:
                sample["offset"] = off
            off += n * len(names)
            lines.append(sample)
        header = {"kind": "header", "step": step, "algorithm": self.manifest["algorithm"], "numSamples": len(norm),
                  "arrays": names, "groups": groups}
        if names:
            if sys.byteorder != "little":
                data.byteswap()
            header["dataFile"] = base + ".f32"
            _write_atomic(os.path.join(rdir, base + ".f32"), data.tobytes())  # data first, then the index
        if params:
            header["params"] = _clean(dict(params))
        text = "\n".join(_dumps(x) for x in [header] + lines) + "\n"
        path = os.path.join(rdir, base + ".jsonl")
        _write_atomic(path, text)
        self._event({"type": "rollout", "time": _now(), "step": step, "file": os.path.relpath(path, self.dir),
                     "numSamples": len(norm), "numGroups": len(groups)})
        return path

    def log_eval(self, step, pass_at_k, samples_per_prompt, num_prompts, mean_reward=None, items=None):
        """Append an eval record: pass_at_k like {1: 0.42, 4: 0.7}; items: optional per-prompt detail
        [{"prompt", "completions", "rewards", "correct"}]."""
        step = self._bump(step)
        rec = {"step": step, "time": round(time.time() - self._t0, 3),
               "passAtK": {str(k): float(v) for k, v in dict(pass_at_k).items()},
               "samplesPerPrompt": int(samples_per_prompt), "numPrompts": int(num_prompts)}
        if mean_reward is not None:
            rec["meanReward"] = float(mean_reward)
        if items is not None:
            rec["items"] = _clean(list(items))
        self._append("eval.jsonl", rec)
        ev = {"type": "eval", "time": _now(), "step": step, "passAtK": rec["passAtK"]}
        if mean_reward is not None:
            ev["meanReward"] = float(mean_reward)
        self._event(ev)

    def log(self, message):
        self._event({"type": "log", "time": _now(), "level": "info", "message": str(message)})

    def warning(self, message, step=None, code=None):
        e = {"type": "warning", "time": _now(), "message": str(message)}
        if step is not None:
            e["step"] = int(step)
        if code is not None:
            e["code"] = str(code)
        self._event(e)

    def error(self, message, stack=None):
        """Record an error and mark the run failed."""
        e = {"type": "error", "time": _now(), "message": str(message)}
        if stack:
            e["stack"] = str(stack)
        self._event(e)
        self.manifest["error"] = {"message": str(message)}
        if stack:
            self.manifest["error"]["stack"] = str(stack)
        self.finish("failed", reason=str(message))

    def finish(self, status="completed", reason=None):
        """Mark the run completed / stopped / failed (idempotent)."""
        if self._finished:
            return
        if status not in ("completed", "stopped", "failed"):
            raise ValueError(f"status must be completed, stopped or failed, got {status!r}")
        self._finished = True
        e = {"type": "end", "time": _now(), "status": status, "step": self.last_step}
        if reason:
            e["reason"] = str(reason)
        self._event(e)
        self.manifest["status"] = status
        self.manifest["endedAt"] = _now()
        self.manifest["step"] = self.last_step
        self._write_manifest()
