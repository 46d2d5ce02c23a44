"""Training: exact resume, the run directory, safe checkpoints, NaN stops, data order, distributed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import nucgan
from nucgan.training import TrainConfig, TrainingError, train
from nucgan.training.checkpoint import load_checkpoint
from nucgan.training.order import StepBatches


def tiny(dsb_dir: Path, out: Path, **over) -> TrainConfig:
    """A seconds-long configuration on a corner of the real DSB image."""
    base = dict(
        dataset="files", sources={"image": str(dsb_dir / "image.tif"), "labels": str(dsb_dir / "labels.tif")},
        region="0:96,0:96", tile=32, stride=32, randomize=2, views="d4", merged=True,
        generator="unet", generator_kwargs={"filters": 4, "levels": 2, "kernel_size": 3},
        discriminator="patchgan", discriminator_kwargs={"filters": 4, "n_layers": 1},
        batch=2, steps=6, seed=3, device="cpu", threads=1, log_every=1, sample_every=3, checkpoint_every=3,
        out=str(out), lr=1e-3,
    )
    base.update(over)
    return TrainConfig(**base)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoint.safetensors"))


def test_resume_is_bit_identical(dsb_dir, tmp_path):
    whole = train(tiny(dsb_dir, tmp_path / "whole"))
    train(tiny(dsb_dir, tmp_path / "split", steps=3))
    split = train(tiny(dsb_dir, tmp_path / "split", steps=6), resume=True)
    a, b = weights(whole), weights(split)
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different[:5]
    assert load_checkpoint(split / "checkpoint.safetensors")["step"] == 6
    steps = [json.loads(line)["step"] for line in (split / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_run_directory_contents(dsb_dir, tmp_path):
    run = train(tiny(dsb_dir, tmp_path / "run"))
    config = json.loads((run / "config.json").read_text())
    assert config["generator"] == "unet" and config["steps"] == 6 and config["seed"] == 3
    assert config["amp"] is False  # auto resolves to off on a CPU, and is recorded resolved
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"step", "g_gan", "g_l1", "d", "samples_per_s"} <= records[0].keys()
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["step0000003.png", "step0000006.png"]
    # the generator file alone rebuilds the model
    model = nucgan.zoo.load(run)
    assert model.generator.config()["filters"] == 4
    assert model.input.in_channels == 5 and model.input.merged is True
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))


def test_bf16_autocast_is_on_by_default_only_where_cuda_computes_bf16_natively(monkeypatch):
    import nucgan.devices
    from nucgan.training.config import resolve_amp

    monkeypatch.setattr(nucgan.devices, "native_bf16", lambda device: True)
    assert resolve_amp(None, "cuda") is True and resolve_amp(None, "cpu") is False
    assert resolve_amp(None, "mps") is False
    assert resolve_amp(False, "cuda") is False and resolve_amp(True, "cpu") is True
    monkeypatch.setattr(nucgan.devices, "native_bf16", lambda device: False)  # a V100: bf16 is emulated
    assert resolve_amp(None, "cuda") is False and resolve_amp(True, "cuda") is True
    with pytest.raises(nucgan.InputError, match="amp"):
        TrainConfig(amp="yes").validate()


def test_amp_asked_for_on_a_cpu_without_native_bf16_warns_and_is_kept(dsb_dir, tmp_path, monkeypatch):
    import nucgan.devices
    from nucgan.training.loop import Run

    monkeypatch.setattr(nucgan.devices, "native_bf16", lambda device: False)
    with pytest.warns(UserWarning, match=r"--amp: .* has no native bfloat16"):
        run = Run(tiny(dsb_dir, tmp_path / "amp", amp=True))
    assert run.config.amp is True  # asked for: honoured, not silently turned off


def test_refuses_to_overwrite_a_run_without_resume(dsb_dir, tmp_path):
    train(tiny(dsb_dir, tmp_path / "run", steps=1))
    with pytest.raises(nucgan.InputError, match="already holds a training run"):
        train(tiny(dsb_dir, tmp_path / "run", steps=1))


def test_nan_stops_and_keeps_last_good_checkpoint(dsb_dir, tmp_path, monkeypatch):
    from nucgan.training import step as step_module

    original = step_module.GanStep.losses
    calls = {"n": 0}

    def poisoned(self, cond, real):
        calls["n"] += 1
        parts, g, d = original(self, cond, real)
        if calls["n"] == 5:
            parts.g_l1 = torch.tensor(float("nan"))
        return parts, g, d

    monkeypatch.setattr(step_module.GanStep, "losses", poisoned)
    with pytest.raises(TrainingError, match="non-finite loss at step 5.*last good checkpoint \\(step 3\\)"):
        train(tiny(dsb_dir, tmp_path / "run", checkpoint_every=3))
    assert load_checkpoint(tmp_path / "run" / "checkpoint.safetensors")["step"] == 3


def test_step_batches_are_a_pure_function_and_ranks_disjoint():
    a = list(StepBatches(50, 4, seed=1, start=0, stop=20))
    b = list(StepBatches(50, 4, seed=1, start=10, stop=20))
    assert a[10:] == b
    r0 = StepBatches(50, 5, seed=2, start=0, stop=5, rank=0, world=2)
    r1 = StepBatches(50, 5, seed=2, start=0, stop=5, rank=1, world=2)
    seen = [i for s in range(5) for i in r0.indices(s) + r1.indices(s)]
    assert sorted(seen) == list(range(50))  # one epoch, split between ranks, no sample twice


def test_kill_9_never_corrupts_the_checkpoint(dsb_dir, tmp_path):
    out = tmp_path / "run"
    config = tiny(dsb_dir, out, steps=400, checkpoint_every=1, sample_every=1000, log_every=1)
    script = tmp_path / "go.py"
    script.write_text(textwrap.dedent(f"""
        from nucgan.training import TrainConfig, train
        train(TrainConfig(**{config.to_json()!r}))
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            log = out / "metrics.jsonl"
            if log.exists() and len(log.read_text().splitlines()) >= 8:
                break
            time.sleep(0.05)
        else:
            pytest.fail("training did not start: " + proc.stderr.read().decode()[-2000:])
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    state = load_checkpoint(out / "checkpoint.safetensors")  # complete and readable
    assert state["step"] >= 7
    resumed = train(tiny(dsb_dir, out, steps=state["step"] + 2, checkpoint_every=1, sample_every=1000),
                    resume=True)
    assert load_checkpoint(resumed / "checkpoint.safetensors")["step"] == state["step"] + 2


def test_two_process_distributed_run(dsb_dir, tmp_path):
    out = tmp_path / "ddp"
    config = tiny(dsb_dir, out, steps=3, checkpoint_every=3, sample_every=3)
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(f"""
        import hashlib, os, sys
        import torch
        import nucgan.training.loop as loop
        from nucgan.training import TrainConfig

        rank = int(os.environ["RANK"])
        writes = []
        import builtins
        real_open, real_replace = builtins.open, os.replace
        def spy_open(file, mode="r", *a, **k):
            if any(c in mode for c in "wax+") and {str(out)!r} in str(file):
                writes.append(str(file))
            return real_open(file, mode, *a, **k)
        def spy_replace(src, dst, *a, **k):
            writes.append(str(dst))
            return real_replace(src, dst, *a, **k)
        builtins.open, os.replace = spy_open, spy_replace
        run = loop.Run(TrainConfig(**{config.to_json()!r}))
        run.run()
        digest = hashlib.sha256()
        for k, v in sorted(run.g.state_dict().items()):
            digest.update(k.encode()); digest.update(v.detach().cpu().numpy().tobytes())
        with open(os.path.join({str(tmp_path)!r}, f"rank{{rank}}.txt"), "w") as fh:
            fh.write(digest.hexdigest() + "\\n" + str(len(writes)))
    """))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--standalone", str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    h0, w0 = (tmp_path / "rank0.txt").read_text().split()
    h1, w1 = (tmp_path / "rank1.txt").read_text().split()
    assert h0 == h1  # identical weights on both ranks
    assert int(w0) > 0 and int(w1) == 0  # rank 0 alone wrote the run directory
    assert (out / "generator.safetensors").exists()


def test_init_starts_from_another_runs_weights_and_refuses_other_architectures(dsb_dir, tmp_path):
    from nucgan.training.loop import Run

    source = train(tiny(dsb_dir, tmp_path / "source", steps=2))
    run = Run(tiny(dsb_dir, tmp_path / "fine", init=str(source)))
    run.prepare()
    trained = nucgan.zoo.load(source).generator.state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in run.g.state_dict().items())
    other = Run(tiny(dsb_dir, tmp_path / "other", init=str(source),
                     generator_kwargs={"filters": 8, "levels": 2, "kernel_size": 3}))
    with pytest.raises(nucgan.InputError, match="differs from this run's"):
        other.prepare()
    assert not (tmp_path / "other").exists()


def test_the_settings_generation_uses_are_those_of_training(dsb_dir, tmp_path, monkeypatch):
    """Train -> save -> publish -> pull -> generate: layering, channels, gap and normalisation arrive unchanged."""
    import nucgan.layering
    from nucgan.generation import generate
    from nucgan.zoo.publishing import publish

    run = train(tiny(dsb_dir, tmp_path / "run", steps=2, gap=3, layerer="first-fit"))
    trained = nucgan.zoo.load(run).input
    publish(run, "settings-test", tmp_path / "zoo", license="CC0-1.0", authors=["t"])
    monkeypatch.setenv("NUCGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NUCGAN_ZOO", (tmp_path / "zoo").as_uri())
    pulled = nucgan.load("settings-test")
    assert pulled.input == trained  # the one record, untouched on its way through the zoo
    used = {}
    real_layer = nucgan.layering.layer

    def spy(labels, **kwargs):
        used.update(kwargs)
        return real_layer(labels, **kwargs)

    monkeypatch.setattr(nucgan.layering, "layer", spy)
    labels = nucgan.read_labels(dsb_dir / "labels.tif")[:64, :64]
    image = generate(pulled, labels, seed=0)
    asked = nucgan.InputSettings.from_json(json.loads((run / "config.json").read_text())["input"])
    assert trained == asked.replace(normalization=trained.normalization)  # the run's record, plus what it measured
    assert pulled.manifest["input"] == trained.to_json()
    assert (used["channels"], used["merged"], used["gap"], used["method"]) == \
        (trained.channels, trained.merged, trained.gap, trained.layerer) == (4, True, 3, "first-fit")
    norm = trained.normalization
    assert norm == nucgan.Normalization.fit(nucgan.read_image(dsb_dir / "image.tif")[:96, :96])
    assert image.dtype == np.dtype(norm.dtype) and norm.low - 1 <= float(image.min()) <= float(image.max()) <= norm.high + 1


def test_a_run_from_before_a_new_default_resumes_with_its_own_architecture(dsb_dir, tmp_path):
    """unetpp's decoder default changed (transpose -> bilinear): a run saved before resumes as it was built."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from nucgan.training.loop import Run

    out = tmp_path / "old"
    train(tiny(dsb_dir, out, steps=2, checkpoint_every=1, generator="unetpp",
               generator_kwargs={"filters": 4, "levels": 2, "kernel_size": 3, "upsample": "transpose"}))

    def forget_upsample(path, key, inner):  # what a file written before the setting existed holds
        with safe_open(str(path), "pt") as fh:
            meta = fh.metadata()
        data = json.loads(meta[key])
        (data[inner] if inner else data).pop("upsample")
        meta[key] = json.dumps(data)
        save_file(load_file(str(path)), str(path), metadata=meta)

    forget_upsample(out / "checkpoint.safetensors", "config", "generator_kwargs")
    forget_upsample(out / "generator.safetensors", "nucgan.config", None)
    config = json.loads((out / "config.json").read_text())
    config["generator_kwargs"].pop("upsample")
    (out / "config.json").write_text(json.dumps(config))
    run = Run(tiny(dsb_dir, out, steps=3, generator="unetpp",
                   generator_kwargs={"filters": 4, "levels": 2, "kernel_size": 3}), resume=True)
    run.run()
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in run.g.modules())
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 3
