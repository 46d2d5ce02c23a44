"""The training run: data, models, optimisers, the step loop, logs, samples, checkpoints, resume."""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader

from nucgan.atomic import atomic_path
from nucgan.devices import bf16_slow_warning, pick_device
from nucgan.errors import InputError, NucganError
from nucgan.memory import keep_freed_memory
from nucgan.noise import dropout_noise
from nucgan.registry import create_dataset, create_discriminator, create_generator
from nucgan.threads import set_threads
from nucgan.training import distributed
from nucgan.training.checkpoint import load_checkpoint, save_checkpoint
from nucgan.training.config import INPUT_SHORTCUTS, TrainConfig, resolve_amp
from nucgan.training.ema import WeightAverage
from nucgan.training.order import StepBatches
from nucgan.io import write_png
from nucgan.training.samples import grid
from nucgan.training.step import GanStep, StepLosses

from nucgan.modelfile import RUN_WEIGHTS as GENERATOR

CHECKPOINT = "checkpoint.safetensors"


class TrainingError(NucganError):
    """The run cannot go on (a non-finite loss, an incompatible resume)."""


def device_for_rank(device: torch.device, world: distributed.World) -> torch.device:
    """This process's own device: under torchrun each rank takes the accelerator of its local rank.

    A device with an explicit index (``cuda:1``) is kept; a bare ``cuda`` becomes ``cuda:<local_rank>``,
    so two ranks on one node never share ``cuda:0``. CPU and MPS have one device, shared.
    """
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", world.local_rank if world.distributed else 0)
    return device


def build_dataset(config: TrainConfig, *, seed: int | None = None) -> Any:
    """The training dataset the configuration describes."""
    return create_dataset(config.dataset, **config.sources, input=config.input, region=config.region,
                          randomize=config.randomize, views=config.views, seed=config.seed if seed is None else seed)


def build_models(config: TrainConfig, in_channels: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Generator and discriminator, initialised from ``config.seed``."""
    torch.manual_seed(config.seed)
    g = create_generator(config.generator, in_channels=in_channels, **config.generator_kwargs)
    d = create_discriminator(config.discriminator, in_channels=in_channels, **config.discriminator_kwargs)
    return g, d


class Run:
    """One training run in ``config.out``; ``run()`` trains from step 0 or from the last checkpoint."""

    def __init__(self, config: TrainConfig, *, resume: bool = False,
                 on_step: Callable[[int, StepLosses, float], None] | None = None,
                 given: set[str] | None = None) -> None:
        """``given``: the settings the user asked for explicitly (the CLI's flags); on resume each must
        agree with the run's config or be one a resume may change. None: every non-default setting."""
        config.validate()
        self.out = Path(config.out)
        self.resume = resume
        self.checkpoint = None
        if resume:
            self.checkpoint = load_checkpoint(_need(self.out / CHECKPOINT, "--resume needs a checkpoint"))
            saved = TrainConfig.from_json(self.checkpoint["config"], str(self.out / CHECKPOINT))
            config = _resumed(saved, config, given, self.out / CHECKPOINT, int(self.checkpoint["step"]))
        elif (self.out / CHECKPOINT).exists() or (self.out / GENERATOR).exists():
            raise InputError(f"{self.out}: already holds a training run; use --resume to continue it "
                             f"or choose another --out")
        self.config = config
        self.on_step = on_step
        device = pick_device(config.device)
        self.world = distributed.init(device)
        self.device = device_for_rank(device, self.world)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        config.amp = resolve_amp(config.amp, self.device)  # recorded resolved in config.json
        slow = bf16_slow_warning(self.device, "--amp") if config.amp else None
        if slow:
            warnings.warn(slow, stacklevel=2)
        set_threads(config.threads)  # --threads, else OMP_NUM_THREADS, else the CPUs (affinity, cgroup quota)
        keep_freed_memory()  # every step's activations reuse the last step's memory (nucgan.memory)

    # -- setup --------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Read the data and build models and optimisers (errors surface here, before any output)."""
        if not getattr(self, "_prepared", False):
            self._setup()
            self._prepared = True

    def _setup(self) -> None:
        c = self.config
        self.dataset = build_dataset(c)
        self.g, self.d = build_models(c, self.dataset.in_channels)
        if self.checkpoint and (self.out / GENERATOR).exists():
            # the architecture the run was saved with: a file from before a new default (unetpp's decoder)
            # rebuilds as it was, not as today's defaults would build the same kwargs
            from nucgan.modelfile import load_generator

            self.g = load_generator(self.out / GENERATOR)[0].train()
        if c.init and not self.checkpoint:
            _init_from(self.g, c.init, self.world)
        _check_generator_output(self.g, self.dataset[0][0][None], c.generator)
        distributed.broadcast_module(self.g, self.world)
        distributed.broadcast_module(self.d, self.world)
        memory_format = torch.channels_last if c.channels_last else torch.contiguous_format
        self.memory_format = memory_format
        self.g.to(self.device, memory_format=memory_format).train()
        self.d.to(self.device, memory_format=memory_format).train()
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=c.lr, betas=c.betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=c.lr if c.lr_d is None else c.lr_d, betas=c.betas)
        self.start = 0
        if self.checkpoint:
            ck = self.checkpoint
            self.g.load_state_dict(ck["G"])
            self.d.load_state_dict(ck["D"])
            self.opt_g.load_state_dict(ck["optG"])
            self.opt_d.load_state_dict(ck["optD"])
            torch.set_rng_state(ck["rng_torch"])
            if ck["rng_cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(ck["rng_cuda"])
            self.start = ck["step"]
        else:
            torch.manual_seed(c.seed * 1000 + self.world.rank)  # dropout noise differs per rank
        self.average = self._weight_average()
        amp = None
        if c.amp:
            amp = torch.autocast(self.device.type, dtype=torch.bfloat16)
        self.step_fn = GanStep(self.g, self.d, self.opt_g, self.opt_d, gan_loss=c.gan_loss,
                               lambda_l1=c.lambda_l1, world=self.world, autocast=amp,
                               feature_matching=c.feature_matching, joint_d=c.d_pass == "joint",
                               d_noise=c.d_noise, d_cond_scale=c.d_cond_scale,
                               l1_blur=c.l1_blur)
        n = len(self.dataset)
        self.sample_ids = sample_ids(n)

    def _weight_average(self) -> WeightAverage | None:
        """The moving average of G's weights (``--ema``), restored from the checkpoint on resume."""
        if not self.config.ema:
            return None
        ck = self.checkpoint
        average = WeightAverage(self.g, self.config.ema, updates=ck["ema_updates"] if ck else 0)
        if ck:
            if not ck["E"]:
                raise InputError(f"{self.out / CHECKPOINT}: the run averages G's weights (--ema) but its "
                                 f"checkpoint holds no average; the checkpoint is not this run's")
            average.model.load_state_dict(ck["E"])
        return average

    @property
    def shipped(self) -> torch.nn.Module:
        """The generator the run saves and samples: the weight average with ``--ema``, else G itself."""
        return self.average.model if self.average is not None else self.g

    # -- outputs --------------------------------------------------------------------------------
    def _write_json(self, name: str, data: Any) -> None:
        with atomic_path(self.out / name) as tmp:
            tmp.write_text(json.dumps(data, indent=2) + "\n")

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.out / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def _truncate_log(self, step: int) -> None:
        """Drop log lines past the checkpoint we resume from (they will be logged again)."""
        path = self.out / "metrics.jsonl"
        if path.exists():
            keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
            with atomic_path(path) as tmp:
                tmp.write_text("".join(line + "\n" for line in keep))

    def _save(self, step: int) -> None:
        save_checkpoint(self.out / CHECKPOINT, step=step, generator=self.g, discriminator=self.d,
                        opt_g=self.opt_g, opt_d=self.opt_d, config=self.config.to_json(), average=self.average)
        from nucgan.modelfile import save_generator

        save_generator(self.out / GENERATOR, self.shipped, name=self.config.generator, input=self.dataset.input,
                       extra={"training": {"step": step, "seed": self.config.seed, "command": self.config.command,
                                           **({"ema": self.config.ema} if self.config.ema else {}),
                                           "dataset": self.config.dataset, "sources": self.config.sources,
                                           "region": self.config.region, "samples": self.dataset.settings()}})

    def _samples(self, step: int) -> None:
        batch = [self.dataset[i] for i in self.sample_ids]
        cond = torch.stack([b[0] for b in batch]).to(self.device, memory_format=self.memory_format)
        real = torch.stack([b[1] for b in batch])
        with torch.random.fork_rng(devices=[]), torch.no_grad(), dropout_noise(self.shipped) as shown:
            torch.manual_seed(self.config.seed)
            fake = shown(cond)
        settings = self.dataset.input
        masks = cond[:, :settings.channels + int(settings.merged)]  # style channels are not masks to draw
        picture = grid(masks, real, fake, merged=settings.merged)
        write_png(self.out / "samples" / f"step{step:07d}.png", picture)

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> Path:
        """Train until ``config.steps``; returns the run directory."""
        c = self.config
        self.prepare()
        if self.world.main:
            self.out.mkdir(parents=True, exist_ok=True)
            self._write_json("config.json", c.to_json())
            if self.start:
                self._truncate_log(self.start)
        batches = StepBatches(len(self.dataset), c.batch, c.seed, self.start, c.steps,
                              self.world.rank, self.world.size)
        # a private generator: creating the loader must not draw from the global RNG (exact resume)
        loader = DataLoader(self.dataset, batch_sampler=batches, num_workers=c.workers,
                            pin_memory=self.device.type == "cuda", generator=torch.Generator())
        samples_per_step = c.batch * self.world.size
        last_good = self.start
        t_log, n_log = time.perf_counter(), 0
        try:
            for step, (cond, real) in enumerate(loader, start=self.start):
                cond = cond.to(self.device, non_blocking=True, memory_format=self.memory_format)
                real = real.to(self.device, non_blocking=True, memory_format=self.memory_format)
                losses = self.step_fn(cond, real)
                if not losses.ok:
                    where = (f"the last good checkpoint (step {last_good}) is in {self.out}" if last_good
                             else "no checkpoint was written yet")
                    raise TrainingError(
                        f"non-finite loss at step {step + 1} (G gan {float(losses.g_gan):.4g}, L1 "
                        f"{float(losses.g_l1):.4g}, D {float(losses.d):.4g}); stopped, {where}. "
                        f"Try a lower --lr or turn off --amp")
                if self.average is not None:
                    self.average.update(self.g)
                done = step + 1
                n_log += 1
                elapsed = time.perf_counter() - t_log
                rate = samples_per_step * n_log / elapsed if elapsed > 0 else math.nan
                if self.on_step:
                    self.on_step(done, losses, rate)
                if self.world.main and (done % c.log_every == 0 or done == c.steps):
                    fm = {"g_fm": float(losses.g_fm)} if losses.g_fm is not None else {}
                    self._log({"step": done, "g_gan": float(losses.g_gan), "g_l1": float(losses.g_l1), **fm,
                               "d": float(losses.d), "samples_per_s": round(rate, 3), "time": time.time()})
                    t_log, n_log = time.perf_counter(), 0
                if done % c.checkpoint_every == 0 or done == c.steps:
                    if self.world.main:
                        self._save(done)
                    last_good = done
                if self.world.main and (done % c.sample_every == 0 or done == c.steps):
                    self._samples(done)
            distributed.barrier(self.world)
        finally:
            distributed.shutdown(self.world)
        return self.out


def sample_ids(n: int, k: int = 4) -> list[int]:
    """``k`` sample indices spread evenly over ``range(n)`` for the sample grids (integers: a float
    linspace rounds past the last index of a 200-million-sample folder)."""
    k = min(k, n)
    return [i * (n - 1) // max(1, k - 1) for i in range(k)]


def _check_generator_output(generator: torch.nn.Module, cond: torch.Tensor, name: str) -> None:
    """One forward on a real sample before training: a wrong shape or NaN blames the generator, up front.

    Runs in eval mode on a forked RNG, so BatchNorm statistics and the random stream are untouched
    (resume stays exact).
    """
    from nucgan.generation import checked_output

    mode = generator.training
    generator.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            checked_output(generator, cond, name)
    finally:
        generator.train(mode)


def _need(path: Path, why: str) -> Path:
    if not path.exists():
        raise InputError(f"{path}: not found ({why})")
    return path


#: settings a resume takes from the new request; every other one must equal the run's
RESUMABLE = ("steps", "device", "workers", "threads", "log_every", "sample_every", "checkpoint_every", "out",
             "command")


def _resumed(saved: TrainConfig, asked: TrainConfig, given: set[str] | None, where: Path, step: int) -> TrainConfig:
    """The saved configuration with the resumable settings of ``asked``; a conflicting setting is an error.

    Nothing asked for is dropped silently: a setting that may change on resume is applied, and one that
    would change the run (another generator, other data) is refused naming both values.
    """
    if given is None:
        defaults = TrainConfig()
        names = [f.name for f in dataclasses.fields(TrainConfig) if f.name != "input"] + list(INPUT_SHORTCUTS)
        given = {name for name in names if getattr(asked, name) != getattr(defaults, name)}
    conflicts = [f"{key.replace('_', '-')} {getattr(asked, key)!r} (the run has {getattr(saved, key)!r})"
                 for key in sorted(given - set(RESUMABLE)) if getattr(asked, key) != getattr(saved, key)]
    if conflicts:
        raise InputError(f"{where}: --resume continues the run as it was configured; these settings differ: "
                         f"{'; '.join(conflicts)}. Drop them, or train a new run with another --out")
    resumed = dataclasses.replace(saved, preset=None)
    resumed.preset = saved.preset
    for key in RESUMABLE:
        if key != "command" and (key in given or key == "out"):
            setattr(resumed, key, getattr(asked, key))
    resumed.command = saved.command  # the command that started the run; each resume is recorded after it
    resumed.resumed = [*saved.resumed, {"from_step": step, "steps": resumed.steps,
                                        "command": asked.command or "train(..., resume=True)"}]
    return resumed


def _init_from(generator: torch.nn.Module, ref: str, world: distributed.World) -> None:
    """Start from another model's weights (zoo id, run dir or file); rank 0 pulls, the others wait."""
    from nucgan.zoo import load

    source = load(ref) if world.main else None  # rank 0 pulls a zoo id into the cache once
    distributed.barrier(world)
    source = source or load(ref)
    mine, theirs = generator.config(), source.generator.config()
    # a generator with noise injection may start from the same one without: its noise scales start at 0
    adds_noise = bool(mine.get("noise_levels")) and {k: v for k, v in mine.items() if k != "noise_levels"} == theirs
    if theirs != mine and not adds_noise:
        raise InputError(f"--init {ref}: its generator ({source.info.name}, {theirs}) differs "
                         f"from this run's ({mine}); use the same --generator settings to fine-tune")
    missing, unexpected = generator.load_state_dict(source.generator.state_dict(), strict=not adds_noise)
    if adds_noise and (unexpected or not all(k.endswith(".scale") for k in missing)):
        raise InputError(f"--init {ref}: weights do not fit this run's generator (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")


def train(config: TrainConfig, *, resume: bool = False) -> Path:
    """Train as ``config`` says (from Python); returns the run directory."""
    return Run(config, resume=resume).run()
