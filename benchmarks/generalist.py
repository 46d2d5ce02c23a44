"""Train the generalist DSB fluorescence models on the fit part of ``dsb2018-fluo/train`` (resumable).

The fit part is ``train/`` minus the fixed, seeded 15 % that ``benchmarks/select_default.py`` holds
out to choose ``synth``'s default, so the choice is made on images no candidate saw. The fit part
is written as a StarDist folder of symbolic links (``runs/generalist/fit/``); each recipe trains
into ``runs/generalist/<name>/``. Run it again after an interruption: a run with a checkpoint is
resumed (``--resume``; its config.json and the model's manifest record each resume).

    python benchmarks/generalist.py dsb2018-fluo-3x-k7          # the paper's best, with the style input
    python benchmarks/generalist.py --list                      # recipes and their progress
    python benchmarks/generalist.py dsb2018-fluo-1x-k3 --export # the finished run, float16, into the repo

``--export`` writes a finished run as a small run folder under ``benchmarks/results/generalist/<name>/``
(the generator in float16, config.json, metrics.jsonl, the last sample grid): committed once, it is
what ``select_default.py``, ``nucgan downstream`` and ``nucgan zoo publish --half`` use, so the
figures and the published entry come from the same weights (float16 to float16 is lossless).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from select_default import DATA, split_train  # noqa: E402

from nucgan.folders import folder_pairs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(os.environ.get("NUCGAN_GENERALIST_WORK", ROOT / "runs" / "generalist"))  # runs live here
RESULTS = ROOT / "benchmarks" / "results" / "generalist"  # exported, committed runs (float16 weights)
COMMON = ["--style", "--batch", "8", "--steps", "4000", "--seed", "0", "--log-every", "50",
          "--sample-every", "1000", "--checkpoint-every", "200", "--quiet"]
RECIPES = {
    # the paper's best architecture (3x chain, tanh,gelu,tanh, kernel 7): "3x beats 1x" tested at scale
    "dsb2018-fluo-3x-k7": ["-g", "chain3", "--act", "tanh,gelu,tanh", "--kernel", "7", "--filters", "16",
                           "--levels", "4"],
    # the 1x U-Net, kernel 3 (the better shipped crop model downstream) with the artefact-free decoder
    "dsb2018-fluo-1x-k3": ["-g", "unet", "--act", "tanh", "--kernel", "3", "--filters", "16", "--levels", "4",
                           "--gen-arg", "upsample=bilinear"],
    # UNet++ (bilinear decoder by default)
    "dsb2018-fluo-unetpp": ["-g", "unetpp", "--kernel", "3", "--filters", "16", "--levels", "4"],
}


# the 1x-k3 recipe with the conv-bilinear decoder (convolve, then resize): a quarter of bilinear's decoder
# cost, for issue 17's generation speed
RECIPES["dsb2018-fluo-1x-k3-cb"] = ["-g", "unet", "--act", "tanh", "--kernel", "3", "--filters", "16", "--levels", "4",
                                    "--gen-arg", "upsample=conv-bilinear"]


# ablation (issue 14 point 5): the 1x-k3 recipe plus the discriminator feature-matching loss
RECIPES["dsb2018-fluo-1x-k3-fm"] = [*RECIPES["dsb2018-fluo-1x-k3"], "--feature-matching", "10"]

# ablation (issue 14 point 5, texture): the shipped 1x-k3 generator fine-tuned with a tenth of the L1 weight, so
# the adversarial loss, not the L1's conditional median, decides the nuclei's inner texture; a fresh
# discriminator, 2000 more steps on other draws of the same fit images (seed 1)
RECIPES["dsb2018-fluo-1x-k3-l10ft"] = [*RECIPES["dsb2018-fluo-1x-k3"], "--init",
                                       "benchmarks/results/generalist/dsb2018-fluo-1x-k3", "--lambda-l1", "10"]  # run from ROOT
# ablation (issue 14 point 5, longer training): the shipped 1x-k3 generator trained 4000 more steps with its own
# recipe (fresh discriminator: the original run's checkpoint was not kept), other draws of the fit images (seed 1)
RECIPES["dsb2018-fluo-1x-k3-ft4k"] = [*RECIPES["dsb2018-fluo-1x-k3"], "--init",
                                      "benchmarks/results/generalist/dsb2018-fluo-1x-k3"]  # run from ROOT
# ablation (issue 14 point 5, per-pixel noise injection): l10ft plus noise injection after the two finest decoder
# blocks (scales start at 0, so it starts as the shipped generator paints): a noise input for the texture that the
# masks do not determine, with the L1 weight cut so the adversary, not the L1's median, shapes it
RECIPES["dsb2018-fluo-1x-k3-nz"] = [*RECIPES["dsb2018-fluo-1x-k3"], "--gen-arg", "noise_levels=2", "--init",
                                    "benchmarks/results/generalist/dsb2018-fluo-1x-k3", "--lambda-l1", "10"]  # run from ROOT
# ablation (issue 14 point 5): nz with one discriminator pass over the real and the generated batch (--d-pass joint),
# so the discriminator's BatchNorm no longer normalises each class on its own and can see what every generated
# tile lacks (texture, noise); the D loss of the separate-pass runs sat near log 4 (chance) for most of a fine-tune
RECIPES["dsb2018-fluo-1x-k3-nzj"] = [*RECIPES["dsb2018-fluo-1x-k3-nz"], "--d-pass", "joint"]  # run from ROOT
# ablation (issue 14 point 5): nzj with the discriminator at 4x the generator's learning rate (two time-scale
# updates), so the fresh discriminator of a fine-tune leaves chance sooner
RECIPES["dsb2018-fluo-1x-k3-nzjt"] = [*RECIPES["dsb2018-fluo-1x-k3-nzj"], "--lr-d", "8e-4"]  # run from ROOT
# ablation (issue 14 point 5): nzj against a discriminator that can see texture. benchmarks/d_probe.py found the
# paper's PatchGAN (and pix2pix's, and a conditional 3 x 3 one) at chance against the frozen generalist, while the
# same 3 x 3 network without the masks as input told its tiles from real ones within 400 steps: an unconditional
# patchgan-k3 (the masks reach the generator through the L1 only)
RECIPES["dsb2018-fluo-1x-k3-nzk"] = [*RECIPES["dsb2018-fluo-1x-k3-nzj"], "--discriminator", "patchgan-k3",
                                     "--disc-arg", "conditional=false"]  # run from ROOT
# ablation (issue 14 point 5): nzk with the generated tiles shown to the discriminator with white noise up to the real
# tile's grain (--d-noise), as synth's sensor noise paints them: nzk's discriminator told the classes apart as well
# over the background as inside the nuclei (mean logit +8.4 real vs -4.7 generated there), i.e. by the grain
RECIPES["dsb2018-fluo-1x-k3-nzkn"] = [*RECIPES["dsb2018-fluo-1x-k3-nzk"], "--d-noise"]  # run from ROOT
# ablation (issue 14 point 5): nzj with the recipe's own conditional discriminator (the paper's) made able to see:
# the masks it is shown scaled by 0.05 (d_probe: AUC 0.583 -> 0.945 against the frozen generalist), and the grain
# matched (--d-noise)
RECIPES["dsb2018-fluo-1x-k3-nzc"] = [*RECIPES["dsb2018-fluo-1x-k3-nzj"], "--d-cond-scale", "0.05", "--d-noise"]  # run from ROOT
# ablation (issue 14 point 5): nzkn with the shipped L1 weight (100, not 10), so the seeing discriminator asks for
# texture while the L1 keeps the nuclei's profile (nzkn's held-out StarDist fell, its nuclei got bright rims)
RECIPES["dsb2018-fluo-1x-k3-nzkn100"] = [*RECIPES["dsb2018-fluo-1x-k3"], "--gen-arg", "noise_levels=2", "--init",
                                         "benchmarks/results/generalist/dsb2018-fluo-1x-k3", "--d-pass", "joint",
                                         "--discriminator", "patchgan-k3", "--disc-arg", "conditional=false",
                                         "--d-noise"]  # run from ROOT
# ablation (issue 14 point 5): nzkn100 with the L1 between tiles blurred by 2 px (--l1-blur 2): the L1 keeps the
# nuclei's profile and brightness, the seeing discriminator owns the texture finer than that
RECIPES["dsb2018-fluo-1x-k3-nzkb"] = [*RECIPES["dsb2018-fluo-1x-k3-nzkn100"], "--l1-blur", "2"]  # run from ROOT
# ablation (issue 14 point 5, "longer training"): nzkb's recipe for 4000 steps (nzkb: 2000)
RECIPES["dsb2018-fluo-1x-k3-nzkb4k"] = list(RECIPES["dsb2018-fluo-1x-k3-nzkb"])  # run from ROOT
# ablation (issue 14 point 5): nzkb's seeing discriminator and blurred L1 trained from scratch (4000 steps, seed 0,
# as the shipped 1x-k3), not as a fine-tune of the shipped weights: the generator learns the nuclei's profile and
# their texture under the same adversary from the start
RECIPES["dsb2018-fluo-1x-k3-sk"] = [*RECIPES["dsb2018-fluo-1x-k3"], "--gen-arg", "noise_levels=2", "--d-pass", "joint",
                                    "--discriminator", "patchgan-k3", "--disc-arg", "conditional=false", "--d-noise",
                                    "--l1-blur", "2"]
# control (issue 14 point 5): the shipped 1x-k3 recipe from scratch with training seed 1, so the spread that the
# training seed alone gives the held-out StarDist figure is measured beside the ablations
RECIPES["dsb2018-fluo-1x-k3-s1"] = list(RECIPES["dsb2018-fluo-1x-k3"])
# controls (issue 14 point 5): more training seeds of the shipped recipe and of sk, so recipes are compared by the
# mean over draws, not by one draw each
RECIPES["dsb2018-fluo-1x-k3-s2"] = list(RECIPES["dsb2018-fluo-1x-k3"])
RECIPES["dsb2018-fluo-1x-k3-s3"] = list(RECIPES["dsb2018-fluo-1x-k3"])
RECIPES["dsb2018-fluo-1x-k3-sk-s1"] = list(RECIPES["dsb2018-fluo-1x-k3-sk"])
RECIPES["dsb2018-fluo-1x-k3-sk-s2"] = list(RECIPES["dsb2018-fluo-1x-k3-sk"])
# ablation (issue 14 point 5, steadier weights): the shipped recipe saving a moving average of G's weights
# (--ema 0.999, half-life about 700 steps) instead of the last step's. The average is passive, so each run's raw
# weights are those of the same seed's run without it (s1, s3): raw vs average is a paired comparison
for _draw in ("", "-s1", "-s2", "-s3"):  # "": seed 0, as the shipped v1
    RECIPES[f"dsb2018-fluo-1x-k3-ema{_draw}"] = [*RECIPES["dsb2018-fluo-1x-k3"], "--ema", "0.999"]
# issue 17 (bf16 autocast on the CPU, 1.7-1.9x the fp32 step here): the shipped recipe with --amp and s3's seed, so
# its quality is compared with s3's, the same draw in float32
RECIPES["dsb2018-fluo-1x-k3-s3-amp"] = [*RECIPES["dsb2018-fluo-1x-k3"], "--amp"]
#: COMMON's values a recipe replaces (a fine-tune takes fewer steps)
OVERRIDES = {"dsb2018-fluo-1x-k3-l10ft": {"--steps": "2000", "--seed": "1"},
             "dsb2018-fluo-1x-k3-ft4k": {"--seed": "1"},
             "dsb2018-fluo-1x-k3-nz": {"--steps": "2000", "--seed": "1"},
             "dsb2018-fluo-1x-k3-nzj": {"--steps": "2000", "--seed": "1"},
             "dsb2018-fluo-1x-k3-nzjt": {"--steps": "2000", "--seed": "1"},
             "dsb2018-fluo-1x-k3-nzk": {"--steps": "2000", "--seed": "1"},
             "dsb2018-fluo-1x-k3-nzkn": {"--steps": "2000", "--seed": "1"},
             "dsb2018-fluo-1x-k3-nzc": {"--steps": "2000", "--seed": "1"},
             "dsb2018-fluo-1x-k3-nzkn100": {"--steps": "2000", "--seed": "1"},
             "dsb2018-fluo-1x-k3-nzkb": {"--steps": "2000", "--seed": "1"},
             "dsb2018-fluo-1x-k3-nzkb4k": {"--steps": "4000", "--seed": "1"},
             "dsb2018-fluo-1x-k3-s1": {"--seed": "1"},
             "dsb2018-fluo-1x-k3-s2": {"--seed": "2"},
             "dsb2018-fluo-1x-k3-s3": {"--seed": "3"},
             "dsb2018-fluo-1x-k3-sk-s1": {"--seed": "1"},
             "dsb2018-fluo-1x-k3-sk-s2": {"--seed": "2"},
             "dsb2018-fluo-1x-k3-ema-s1": {"--seed": "1"},
             "dsb2018-fluo-1x-k3-ema-s2": {"--seed": "2"},
             "dsb2018-fluo-1x-k3-ema-s3": {"--seed": "3"},
             "dsb2018-fluo-1x-k3-s3-amp": {"--seed": "3"}}


def common(name: str) -> list[str]:
    """COMMON with the recipe's OVERRIDES applied (each flag keeps one value, so the command says what ran)."""
    out = list(COMMON)
    for flag, value in OVERRIDES.get(name, {}).items():
        out[out.index(flag) + 1] = value
    return out


def fit_folder() -> Path:
    """``runs/generalist/fit``: links to the fit part's images and masks (the same split select_default uses)."""
    fit, held = split_train(folder_pairs(DATA))
    folder = WORK / "fit"
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    wanted = {(sub, p.name): p for image, mask in fit for sub, p in (("images", image), ("masks", mask))}
    for sub in ("images", "masks"):
        for link in (folder / sub).iterdir():
            if (sub, link.name) not in wanted:
                link.unlink()
    for (sub, name), target in wanted.items():
        link = folder / sub / name
        if not link.is_symlink() or os.readlink(link) != str(target):
            link.unlink(missing_ok=True)
            link.symlink_to(target)
    (WORK / "split.json").write_text(json.dumps({"fit": [p.name for p, _ in fit], "held_out": [p.name for p, _ in held]},
                                                indent=1) + "\n")
    return folder


def progress(name: str) -> str:
    """The last logged step of a recipe's run, or 'not started'."""
    log = WORK / name / "metrics.jsonl"
    if not log.exists():
        return "not started"
    last = json.loads(log.read_text().splitlines()[-1])
    return f"step {last['step']}, {last['samples_per_s']} samples/s"


def export(name: str, raw: bool = False) -> Path:
    """Copy the finished run ``name`` into ``benchmarks/results/generalist/<name>/`` with float16 weights.

    ``raw``: a run with ``--ema`` saves the weight average; this exports its checkpoint's last-step weights
    instead, into ``<name>-raw/``, the paired control of the average (same run, same data order).
    """
    from nucgan.atomic import atomic_path
    from nucgan.modelfile import RUN_WEIGHTS, load_generator, save_generator
    from nucgan.training.checkpoint import load_checkpoint

    run, dest = WORK / name, RESULTS / (name + "-raw" if raw else name)
    config = json.loads((run / "config.json").read_text())
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    if last["step"] < config["steps"] or not (run / RUN_WEIGHTS).is_file():
        sys.exit(f"error: {run}: not finished (step {last['step']} of {config['steps']})")
    generator, info = load_generator(run / RUN_WEIGHTS)
    if raw:
        if not config.get("ema"):
            sys.exit(f"error: {run}: trained without --ema, its weights are the last step's already")
        generator.load_state_dict(load_checkpoint(run / "checkpoint.safetensors")["G"])
        info.extra["training"] = {**info.extra["training"], "ema": 0.0, "weights": "the last step's (checkpoint G)"}
    dest.mkdir(parents=True, exist_ok=True)
    sha = save_generator(dest / RUN_WEIGHTS, generator, name=info.name, input=info.input, extra=info.extra, half=True)
    with atomic_path(dest / "metrics.jsonl") as tmp:
        shutil.copyfile(run / "metrics.jsonl", tmp)
    with atomic_path(dest / "config.json") as tmp:  # the same run without the average trains the raw weights
        tmp.write_text(json.dumps({**config, "ema": 0.0} if raw else config, indent=2) + "\n")
    samples = sorted((run / "samples").glob("*.png"))
    if samples:
        (dest / "samples").mkdir(exist_ok=True)
        shutil.copyfile(samples[-1], dest / "samples" / samples[-1].name)
    print(f"{dest}: {info.name}, float16, sha256 {sha}")
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", nargs="?", choices=sorted(RECIPES))
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 leaves a core to other work)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--export", action="store_true", help="copy the finished run, float16, into benchmarks/results")
    ap.add_argument("--raw", action="store_true", help="with --export and an --ema run: its last-step weights, as <name>-raw")
    args = ap.parse_args()
    if args.list or not args.name:
        for name, recipe in RECIPES.items():
            print(f"{name}: {progress(name)}\n    {shlex.join(recipe + common(name))}")
        return
    if args.export and args.name:
        export(args.name, raw=args.raw)
        return
    data = fit_folder()
    out = WORK / args.name
    resume = (out / "checkpoint.safetensors").exists()
    if resume:
        command = [sys.executable, "-m", "nucgan", "train", "--resume", "--out", str(out), "--threads", str(args.threads), "--quiet"]
    else:
        command = [sys.executable, "-m", "nucgan", "train", "--data", str(data), *RECIPES[args.name], *common(args.name), "--threads",
                   str(args.threads), "--out", str(out)]
    print(shlex.join(command), flush=True)
    sys.exit(subprocess.call(command, cwd=ROOT))  # recipes name repository paths relative to it


if __name__ == "__main__":
    main()
