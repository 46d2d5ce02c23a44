"""The authors' TensorFlow/Keras GAN step beside nucgan's, same model, same machine, alternating runs.

The Keras side is written from ../shared/paper/NOTES.md (the architecture read from the authors'
script): the 3x chained U-Net (kernel K, L levels, F filters, C input channels, tanh/gelu/tanh),
the patch discriminator, BCE + lambda * L1, Adam, one ``tf.function`` step with both updates. The
nucgan side is ``chain3`` against ``patchgan-paper`` through ``nucgan.training.step.GanStep``
(channels-last). Each measurement is a fresh child process (``--tf-python`` names an interpreter
with tensorflow-cpu, e.g. one made with ``pip install 'nucgan[stardist]'``); rounds alternate so
both see the same machine load. Prints ms/step, samples/s and the ratio; nothing is asserted.

    python benchmarks/peer_tf_step.py --tf-python /path/to/venv-with-tf/bin/python [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def keras_step(args: argparse.Namespace) -> float:
    """Seconds per full GAN step of the Keras model (after warm-up)."""
    import tensorflow as tf

    if args.keras_malloc == "keep":  # the same glibc setting nucgan makes, to see whether Keras gains from it too
        from nucgan.memory import keep_freed_memory

        keep_freed_memory()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    layers, init = tf.keras.layers, tf.keras.initializers.HeNormal()

    def unet(x, activation):
        skips, h = [], x
        for i in range(args.levels + 1):
            h = layers.Conv2D(args.filters * 2 ** i, args.kernel, 2, "same", use_bias=False, kernel_initializer=init)(h)
            if i:
                h = layers.BatchNormalization()(h)
            h = layers.LeakyReLU(0.3)(h)
            skips.append(h)
        for i, skip in enumerate(reversed(skips[:-1])):
            h = layers.Conv2DTranspose(args.filters * 2 ** (args.levels - 1 - i), args.kernel, 2, "same",
                                       use_bias=False, kernel_initializer=init)(h)
            h = layers.BatchNormalization()(h)
            if i < 2:
                h = layers.Dropout(0.5)(h)
            h = layers.LeakyReLU(0.3)(h)
            h = layers.Concatenate()([h, skip])
        h = layers.Conv2DTranspose(1, args.kernel, 2, "same", kernel_initializer=init)(h)
        return layers.Activation(activation)(h)

    x = layers.Input((args.tile, args.tile, args.in_channels))
    outs, inp = [], x
    for act in ("tanh", "gelu", "tanh"):
        y = unet(inp, act)
        outs.append(y)
        inp = layers.Concatenate()([x, *outs])
    gen = tf.keras.Model(x, outs[-1])
    m, im = layers.Input((args.tile, args.tile, args.in_channels)), layers.Input((args.tile, args.tile, 1))
    h = layers.Concatenate()([m, im])
    for i, f in enumerate((64, 128, 256)):
        h = layers.Conv2D(f, 2, 2, "same", use_bias=False, kernel_initializer=init)(h)
        if i:
            h = layers.BatchNormalization()(h)
        h = layers.LeakyReLU(0.3)(h)
    h = layers.ZeroPadding2D()(h)
    h = layers.LeakyReLU(0.3)(layers.BatchNormalization()(layers.Conv2D(512, 2, 1, use_bias=False,
                                                                       kernel_initializer=init)(h)))
    disc = tf.keras.Model([m, im], layers.Conv2D(1, 2, 1, kernel_initializer=init)(layers.ZeroPadding2D()(h)))
    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    opt_g, opt_d = tf.keras.optimizers.Adam(1e-4, 0.9), tf.keras.optimizers.Adam(1e-4, 0.9)
    cond = tf.cast(tf.random.uniform((args.batch, args.tile, args.tile, args.in_channels)) > 0.7, tf.float32) * 2 - 1
    real = tf.random.uniform((args.batch, args.tile, args.tile, 1)) * 2 - 1

    @tf.function
    def step():
        with tf.GradientTape() as gt, tf.GradientTape() as dt:
            fake = gen(cond, training=True)
            d_real, d_fake = disc([cond, real], training=True), disc([cond, fake], training=True)
            g_loss = bce(tf.ones_like(d_fake), d_fake) + 100.0 * tf.reduce_mean(tf.abs(real - fake))
            d_loss = bce(tf.ones_like(d_real), d_real) + bce(tf.zeros_like(d_fake), d_fake)
        opt_g.apply_gradients(zip(gt.gradient(g_loss, gen.trainable_variables), gen.trainable_variables))
        opt_d.apply_gradients(zip(dt.gradient(d_loss, disc.trainable_variables), disc.trainable_variables))
        return g_loss

    args.params = {"G": int(gen.count_params()), "D": int(disc.count_params())}
    return _time(lambda: float(step()), args)


def torch_step(args: argparse.Namespace) -> float:
    """Seconds per full GAN step of nucgan's chain3 vs patchgan-paper (after warm-up)."""
    import torch

    import nucgan
    from nucgan.training.distributed import World
    from nucgan.training.step import GanStep

    torch.set_num_threads(args.threads)
    if args.malloc == "keep":  # what nucgan's training loop does (nucgan.memory)
        from nucgan.memory import keep_freed_memory

        keep_freed_memory()
    g = nucgan.create_generator("chain3", in_channels=args.in_channels, kernel_size=args.kernel, levels=args.levels,
                                filters=args.filters, activations=["tanh", "gelu", "tanh"])
    d = nucgan.create_discriminator("patchgan-paper", in_channels=args.in_channels)
    fmt = torch.channels_last
    g.to(memory_format=fmt).train()
    d.to(memory_format=fmt).train()
    cond = ((torch.rand(args.batch, args.in_channels, args.tile, args.tile) > 0.7).float() * 2 - 1).contiguous(
        memory_format=fmt)
    real = (torch.rand(args.batch, 1, args.tile, args.tile) * 2 - 1).contiguous(memory_format=fmt)
    adam = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[args.adam]
    step = GanStep(g, d, torch.optim.Adam(g.parameters(), 1e-4, betas=(0.9, 0.999), **adam),
                   torch.optim.Adam(d.parameters(), 1e-4, betas=(0.9, 0.999), **adam), gan_loss="bce", lambda_l1=100.0,
                   world=World(), autocast=torch.autocast("cpu", dtype=torch.bfloat16) if args.amp else None)
    if args.compile:  # inductor's C++ kernels for G and D (forward and backward); compile time is not timed
        step.g, step.d = torch.compile(g), torch.compile(d)
    count = lambda m: sum(p.numel() for p in m.parameters()) + sum(  # noqa: E731 - Keras counts BN statistics
        b.numel() for n, b in m.named_buffers() if n.endswith(("running_mean", "running_var")))
    args.params = {"G": count(g), "D": count(d)}
    return _time(lambda: step(cond, real), args)


def _time(fn, args: argparse.Namespace) -> float:
    for _ in range(args.warmup):
        fn()
    start = time.perf_counter()
    for _ in range(args.steps):
        fn()
    return (time.perf_counter() - start) / args.steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tf-python", help="interpreter with tensorflow (the Keras side)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--tile", type=int, default=128)
    ap.add_argument("--kernel", type=int, default=5)
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--filters", type=int, default=16)
    ap.add_argument("--in-channels", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--adam", choices=("default", "foreach", "fused"), default="default",
                    help="nucgan side: torch.optim.Adam implementation (a lever of issue 17)")
    ap.add_argument("--compile", action="store_true", help="nucgan side: torch.compile G and D (a lever of issue 17)")
    ap.add_argument("--amp", action="store_true",
                    help="nucgan side: bf16 autocast (`nucgan train --amp`; weights, optimiser state and losses stay fp32)")
    ap.add_argument("--malloc", choices=("keep", "system"), default="keep",
                    help="nucgan side: keep freed memory for reuse (nucgan's default) or glibc's own thresholds")
    ap.add_argument("--keras-onednn", choices=("on", "default"), default="on",
                    help="Keras side: TF_ENABLE_ONEDNN_OPTS=1 (on), or TensorFlow's own choice, which leaves oneDNN off on "
                         "some CPUs (an AVX2-only AMD EPYC: 1.9x slower Keras step)")
    ap.add_argument("--keras-malloc", choices=("keep", "system"), default="system",
                    help="Keras side: the same choice (default: glibc's own, as the authors ran it)")
    ap.add_argument("--child", choices=("tf", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        seconds = keras_step(args) if args.child == "tf" else torch_step(args)
        print(json.dumps({"seconds": seconds, "params": args.params}))
        return
    if not args.tf_python:
        sys.exit("error: --tf-python: give an interpreter that has tensorflow installed")
    passed = [a for a in sys.argv[1:] if not a.startswith("--tf-python") and a != args.tf_python]
    from nucgan.devices import describe_machine  # the parent needs no torch threads of its own

    print(f"machine: {describe_machine(args.threads)}", flush=True)  # figures compare on one machine only
    times: dict[str, list[float]] = {"tf": [], "torch": []}
    params: dict[str, dict[str, int]] = {}
    for r in range(args.rounds):
        for side, python in (("tf", args.tf_python), ("torch", sys.executable)):
            env = dict(os.environ)
            if side == "tf" and args.keras_onednn == "on":
                env["TF_ENABLE_ONEDNN_OPTS"] = "1"
            out = subprocess.run([python, __file__, "--child", side, *passed], capture_output=True, text=True, env=env)
            if out.returncode:
                sys.exit(f"error: the {side} child failed: {out.stderr.strip().splitlines()[-1:]}")
            record = json.loads(out.stdout.strip().splitlines()[-1])
            times[side].append(record["seconds"])
            params[side] = record["params"]
            print(f"round {r + 1} {side:5}: {times[side][-1] * 1e3:7.1f} ms/step", flush=True)
    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    print(f"\n3x U-Net k{args.kernel} L{args.levels} F{args.filters} C{args.in_channels}, batch {args.batch}, "
          f"{args.tile} px, {args.threads} threads, {args.rounds} alternating rounds (load average {load}); "
          f"nucgan side: Adam {args.adam}{', torch.compile' if args.compile else ''}{', bf16 autocast' if args.amp else ''}, "
          f"malloc {args.malloc}; "
          f"Keras side: malloc {args.keras_malloc}, oneDNN {args.keras_onednn}:")
    for side, label in (("tf", "authors' Keras step"), ("torch", "nucgan step")):
        t = times[side]
        print(f"  {label:20}: {statistics.median(t) * 1e3:7.1f} ms/step (range {min(t) * 1e3:.0f}-{max(t) * 1e3:.0f}),"
              f" {args.batch / statistics.median(t):5.1f} samples/s")
    same = "the same" if params["tf"] == params["torch"] else "DIFFERENT"
    print(f"  parameters (G, D incl. BatchNorm statistics): Keras {params['tf']}, nucgan {params['torch']}: {same}")
    print(f"  speed-up nucgan / Keras: {statistics.median(times['tf']) / statistics.median(times['torch']):.2f}x")


if __name__ == "__main__":
    main()
