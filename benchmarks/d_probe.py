"""Can the discriminator tell real from generated at all? D alone trained against a frozen generator.

In every fine-tune of the generalist the discriminator's loss stayed near log 4 (chance), while the
small realism classifier (``nucgan.quality.realism``) tells the same generator's images from real
ones at AUC 0.87-0.96. This trains a fresh discriminator alone (the generator frozen, in training
mode as a GAN step runs it) on the fit part's tiles for ``--steps`` steps and prints its loss, and
then the AUC of its mean patch logit on ``--eval-batches`` new batches (real vs generated tiles of
the same masks): near 0.5 means the discriminator cannot see what the classifier sees.
``--disc realism-cnn`` is the control: the realism classifier's own network (image only, no masks)
trained the same way on the same tiles, so a gap between the two is the discriminator's, not the data's.

    python benchmarks/d_probe.py --model benchmarks/results/generalist/dsb2018-fluo-1x-k3 --steps 400 \\
        [--d-pass joint] [--lr-d 8e-4] [--disc patchgan-k3 [--disc-arg conditional=false]]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generalist import RESULTS, WORK, fit_folder  # noqa: E402

from nucgan.quality.realism import build_classifier, roc_auc  # noqa: E402
from nucgan.training import TrainConfig  # noqa: E402
from nucgan.training.losses import adversarial  # noqa: E402


class RealismAsDisc(torch.nn.Module):
    """The realism classifier's network with a discriminator's call: (masks, image) -> (B, 1, 1, 1) logit.

    Its logit is "generated" when positive, so it is negated to read as a discriminator's "real"."""

    def __init__(self) -> None:
        super().__init__()
        self.net = build_classifier()

    def forward(self, conditioning: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return -self.net(image).view(-1, 1, 1, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(RESULTS / "dsb2018-fluo-1x-k3"), help="a generalist run folder")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--eval-batches", type=int, default=16)
    ap.add_argument("--d-pass", choices=("separate", "joint"), default="separate")
    ap.add_argument("--lr-d", type=float, default=2e-4)
    ap.add_argument("--disc", default=None,
                    help="another registered discriminator, or realism-cnn (the control) [the model's recipe's]")
    ap.add_argument("--disc-arg", action="append", default=[], help="a discriminator kwarg, key=value (repeatable)")
    ap.add_argument("--cond-scale", type=float, default=1.0,
                    help="multiply the conditioning by this before the discriminator (are the masks' +-1 edges what blinds it?)")
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="JSON of the result")
    args = ap.parse_args()
    from nucgan.cli.kv import parse_kv
    from nucgan.training.loop import Run

    saved = json.loads((Path(args.model) / "config.json").read_text())
    saved.update(sources={"folder": str(fit_folder())}, init=args.model, seed=args.seed, threads=args.threads,
                 out=str(WORK / "d_probe"), steps=args.steps + args.eval_batches, resumed=[], command="")
    if args.disc and args.disc != "realism-cnn":
        saved.update(discriminator=args.disc, discriminator_kwargs=parse_kv(args.disc_arg, "--disc-arg"))
    config = TrainConfig.from_json(saved, "d_probe")
    run = Run(config)
    run.prepare()
    g, d = run.g, run.d
    if args.disc == "realism-cnn":
        d = RealismAsDisc()
    for p in g.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(d.parameters(), lr=args.lr_d, betas=config.betas)
    rng = np.random.default_rng(args.seed)

    def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = rng.integers(len(run.dataset), size=config.batch)
        cond = torch.stack([run.dataset[int(i)][0] for i in idx])
        real = torch.stack([run.dataset[int(i)][1] for i in idx])
        with torch.no_grad():
            fake = g(cond)
        return cond, real, fake

    def logits(cond: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cond = cond * args.cond_scale
        if args.d_pass == "joint":
            return d(torch.cat([cond, cond]), torch.cat([real, fake])).split(real.shape[0])
        return d(cond, real), d(cond, fake)

    started, losses = time.perf_counter(), []
    d.train()
    for step in range(1, args.steps + 1):
        cond, real, fake = batch()
        lr_, lf = logits(cond, real, fake)
        loss = adversarial(lr_.float(), True, config.gan_loss) + adversarial(lf.float(), False, config.gan_loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if step % 50 == 0:
            print(f"step {step}: D loss {np.mean(losses[-50:]):.3f}", flush=True)
    scores_real, scores_fake = [], []
    with torch.no_grad():  # scored as training scores them: BatchNorm on the batch, the chosen pass
        for _ in range(args.eval_batches):
            cond, real, fake = batch()
            lr_, lf = logits(cond, real, fake)
            scores_real += lr_.float().mean(dim=(1, 2, 3)).tolist()
            scores_fake += lf.float().mean(dim=(1, 2, 3)).tolist()
    auc = roc_auc(np.asarray(scores_fake), np.asarray(scores_real))  # P(real scores above generated); 0.5: chance
    result = {"model": args.model, "discriminator": args.disc or config.discriminator,
              "discriminator_kwargs": config.discriminator_kwargs if args.disc != "realism-cnn" else {}, "d_pass": args.d_pass, "lr_d": args.lr_d, "cond_scale": args.cond_scale,
              "steps": args.steps, "seed": args.seed, "final_d_loss": round(float(np.mean(losses[-50:])), 4),
              "auc_real_above_generated": round(auc, 4), "tiles_scored": len(scores_real) * 2,
              "seconds": round(time.perf_counter() - started, 1), "command": " ".join(["python", *sys.argv])}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
