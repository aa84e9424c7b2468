#!/usr/bin/env python
"""How fast is the course's training loop? (Not a test: it prints numbers for the README.)

Three measurements, picked with --what (comma-separated):

  throughput  The same DCGAN (gl.models.DCGANGenerator / DCGANDiscriminator, batch 64, fp32) trained by
              (a) a textbook loop in the style of pytorch/examples' dcgan/main.py: torchvision MNIST,
                  a DataLoader with per-batch ToTensor + Normalize, BCELoss on sigmoid outputs,
                  `.item()` every step; and
              (b) the package's loop, gl.train.train (data resident on the device, batches by indexing,
                  losses summed on the device, one snapshot every 50 steps), three ways:
                  (b)  as the lessons call it: gl.train.gan_step, fresh noise for G's step as in
                       Goodfellow's Algorithm 1 (one more G forward pass than the textbook);
                  (b1) step=gl.speed.fast_step(G, D, Options(...)) with the options given on the
                       command line (channels-last on a CPU, automatically);
                  (b2) the same with reuse_fake=True (G's step reuses the D step's fakes, as the
                       textbook does: the same work per step as (a)).
              All run in this process, interleaved (a, b, b1, b2, a, ...), warm-up steps excluded; it
              prints images/s (real images per second, one real batch per generator step) and the ratios.
  ring        Time-to-quality on the 2-D ring of 8 Gaussians with gl.experiments.ring_gan_recipe():
              modes covered (of 8) and the fraction of high-quality samples (gl.toy.count_modes)
              after --ring-seconds, averaged over --seeds.
  quality     Time-to-quality on images: seconds of training until the classifier-FID (gl.metrics)
              of 2,000 samples reaches 2x the real-data floor, on MNIST and Fashion-MNIST, and
              (MNIST) until the classifier score reaches 80% of the real test data's with all 10
              classes made; each dataset stops after --max-seconds of training.

Examples:
  python scripts/benchmark.py                                 # throughput on the CPU, about a minute
  python scripts/benchmark.py --what ring --seeds 0,1,2
  python scripts/benchmark.py --what quality --max-seconds 600 --datasets mnist
  python scripts/benchmark.py --device cuda --batch-size 256 --steps 500 --precision bf16 --cuda-graph

Needs the datasets in $GAN_LESSONS_DATA (torchvision layout); never uses the network: the textbook
loop reads a temporary copy of the .gz files (torchvision unpacks them next to the originals).
"""
import argparse
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time

import torch
from torch import nn

import gan_lessons as gl
from gan_lessons import experiments, models, speed, toy
from gan_lessons import train as gltrain
from gan_lessons.data import data_dir, load_images


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- (a) the textbook loop --------------------------------------------------------------------------

def textbook_loader(root, batch_size, workers, device):
    """pytorch/examples' data pipeline: torchvision MNIST + DataLoader + per-batch transforms."""
    import torchvision.datasets as dset
    import torchvision.transforms as transforms

    raw = data_dir() / "MNIST" / "raw"
    gz = sorted(raw.glob("*.gz"))
    if len(gz) < 4:
        sys.exit(f"The textbook loop needs the MNIST .gz files in {raw} (set GAN_LESSONS_DATA).")
    target = os.path.join(root, "MNIST", "raw")
    os.makedirs(target, exist_ok=True)
    for f in gz:
        shutil.copy(f, target)
    # download=True finds the .gz files with the right md5 and only unpacks them: no network.
    dataset = dset.MNIST(root=root, train=True, download=True,
                         transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]))
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                                       drop_last=True, pin_memory=device.type == "cuda",
                                       persistent_workers=workers > 0)


def textbook_run(loader, netG, netD, device, warmup, steps):
    """pytorch/examples/dcgan's training loop, step for step; returns seconds for `steps` timed steps."""
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real_label, fake_label = 1.0, 0.0
    i, t0 = 0, None
    while True:
        for data in loader:
            if i == warmup:
                sync(device)
                t0 = time.perf_counter()
            if i == warmup + steps:
                return time.perf_counter() - t0
            # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            real_cpu = data[0].to(device)
            b = real_cpu.size(0)
            label = torch.full((b,), real_label, dtype=real_cpu.dtype, device=device)
            output = torch.sigmoid(netD(real_cpu))  # our D returns logits; the example's D ends in Sigmoid
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()
            noise = torch.randn(b, netG.latent_dim, device=device)
            fake = netG(noise)
            label.fill_(fake_label)
            output = torch.sigmoid(netD(fake.detach()))
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()
            # (2) Update G: maximize log(D(G(z)))
            netG.zero_grad()
            label.fill_(real_label)
            output = torch.sigmoid(netD(fake))
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()
            stats = (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2)  # the example prints these every step
            del stats
            i += 1


# -- (b) the package's loop -------------------------------------------------------------------------

def package_run(data, netG, netD, batch_size, warmup, steps, options=None):
    """gl.train.train: warm-up call, then a timed call that resumes it; returns seconds for `steps`.

    options=None: the lessons' plain step (`gan_step`); else `speed.fast_step` with those options."""
    opt_G, opt_D = gltrain.make_optimizers(netG, netD)
    step = gltrain.gan_step if options is None else speed.fast_step(netG, netD, options, data=data)
    common = dict(batch_size=batch_size, opt_G=opt_G, opt_D=opt_D, progress=False, record_every=50, step=step)
    h = gltrain.train(netG, netD, data, warmup, **common)
    device = next(netG.parameters()).device
    sync(device)
    t0 = time.perf_counter()
    gltrain.train(netG, netD, data, steps, history=h, **common)
    sync(device)
    return time.perf_counter() - t0


def dcgan(args, device, seed):
    gl.seed_everything(seed)
    return (models.DCGANGenerator(latent_dim=args.latent_dim, width=args.width).to(device),
            models.DCGANDiscriminator(width=args.width).to(device))


def throughput(args, device, options):
    b, rounds = args.batch_size, args.rounds
    print(f"\n== Throughput: DCGAN width {args.width}, batch {b}, {args.steps} timed steps after "
          f"{args.warmup} warm-up steps, {rounds} interleaved rounds ==")
    data = load_images("mnist", "train", device=device)
    runs = {"textbook": "textbook", "gan_step": None, "fast_step": options,
            "fast_step reuse_fake": dataclasses.replace(options, reuse_fake=True)}
    results = {name: [] for name in runs}
    with tempfile.TemporaryDirectory(prefix="gl-bench-") as root:
        loader = textbook_loader(root, b, args.workers, device)
        for r in range(rounds):
            for name, run_options in runs.items():
                G, D = dcgan(args, device, r)
                if run_options == "textbook":
                    t = textbook_run(loader, G, D, device, args.warmup, args.steps)
                else:
                    t = package_run(data, G, D, b, args.warmup, args.steps, run_options)
                results[name].append(b * args.steps / t)
            print(f"  round {r + 1}: " + "   ".join(f"{name} {v[-1]:7.0f} img/s" for name, v in results.items()),
                  flush=True)
        del loader
    a, p, f, q = (statistics.median(v) for v in results.values())
    print(f"  median:  (a)  textbook loop (DataLoader, .item() per step):         {a:8.0f} img/s")
    print(f"           (b)  gl.train.train, gan_step (as the lessons call it):  {p:8.0f} img/s   {p / a:.2f}x (a)")
    print(f"           (b1) step=fast_step{_speed_label(options)}:               {f:8.0f} img/s   {f / a:.2f}x (a)")
    print(f"           (b2) step=fast_step, reuse_fake{_speed_label(options)}:   {q:8.0f} img/s   {q / a:.2f}x (a)")
    return a, p, f, q


def _speed_label(options):
    bits = [options.precision] + (["cuda_graph"] if options.cuda_graph else []) + \
           ([f"compile={options.compile}"] if options.compile else [])
    return " (" + ", ".join(bits) + ")"


# -- time to quality ------------------------------------------------------------------------------------

def ring(args, device):
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"\n== Ring of 8 (gl.experiments.ring_gan_recipe: {experiments.RING_RECIPE}), "
          f"{args.ring_seconds:.0f} s budget, seeds {seeds} ==")
    data = toy.Ring2D()
    rows = []
    for seed in seeds:
        G, D, kw = experiments.ring_gan_recipe(seed=seed)
        G, D = G.to(device), D.to(device)
        total, chunk = kw.pop("steps"), kw["record_every"]  # train in chunks to check the clock
        kw.update(progress=False)
        h, spent, hit = None, 0.0, None
        while h is None or h.last_step < total:
            t0 = time.perf_counter()
            h = gltrain.train(G, D, data, min(chunk, total - (h.last_step if h else 0)), history=h, **kw)
            spent += time.perf_counter() - t0
            last = h[-1]
            if hit is None and last["modes_covered"] == 8 and last["high_quality"] >= 0.9:
                hit = spent
            if spent > args.ring_seconds:
                break
        rows.append((last["modes_covered"], last["high_quality"], h.last_step, spent, hit))
        print(f"  seed {seed}: {last['modes_covered']}/8 modes, {last['high_quality']:.1%} high quality after "
              f"{h.last_step} steps / {spent:.1f} s; 8 modes and >= 90% first reached at "
              f"{'-' if hit is None else f'{hit:.1f} s'}")
    modes = statistics.mean(r[0] for r in rows)
    hq = statistics.mean(r[1] for r in rows)
    print(f"  average: {modes:.2f} of 8 modes, {hq:.1%} high-quality samples "
          f"(target: >= 7.8 modes and >= 90% within {args.ring_seconds:.0f} s)")
    return modes, hq


def quality(args, device, options):
    try:
        from gan_lessons import metrics
        metrics.classifier_outputs, metrics.fid_floor, metrics.score_from_probs  # noqa: B018
    except (ImportError, AttributeError) as e:
        print(f"\n== Time to quality skipped: gan_lessons.metrics is not available yet ({e}). ==")
        return
    n = 2000
    for ds in args.datasets.split(","):
        print(f"\n== Time to quality on {ds}: DCGAN width {args.width}, batch {args.batch_size}, "
              f"{args.precision}{', reuse_fake' if args.reuse_fake else ''}, "
              f"FID of {n} samples vs the test split; budget {args.max_seconds:.0f} s of training ==")
        try:
            floor = metrics.fid_floor(ds, n=n)
            real_f, _ = metrics.classifier_outputs(load_images(ds, "test", device=device).images, ds)
            real_stats = metrics.gaussian_stats(real_f)
            real_score = metrics.real_score(ds)
        except Exception as e:  # e.g. the classifier weights are missing
            print(f"  skipped: could not set up the classifier metrics ({type(e).__name__}: {e})")
            continue
        print(f"  real-data floor {floor:.2f} -> target FID <= {2 * floor:.2f}; real score {real_score:.2f}")
        data = load_images(ds, "train", device=device)
        G, D = dcgan(args, device, 0)
        opt_G, opt_D = gltrain.make_optimizers(G, D)
        step = speed.fast_step(G, D, dataclasses.replace(options, reuse_fake=args.reuse_fake), data=data)
        common = dict(batch_size=args.batch_size, opt_G=opt_G, opt_D=opt_D, progress=False, step=step)
        h, spent, fid_hit, score_hit = None, 0.0, None, None
        while spent < args.max_seconds:
            t0 = time.perf_counter()
            h = gltrain.train(G, D, data, args.eval_every, history=h, record_every=args.eval_every, **common)
            sync(device)
            spent += time.perf_counter() - t0
            fake_f, fake_p = metrics.classifier_outputs(metrics.generate(G, n, seed=0), ds)
            fid = metrics.frechet_distance(*real_stats, *metrics.gaussian_stats(fake_f))
            score = metrics.score_from_probs(fake_p)
            covered = metrics.coverage_from_probs(fake_p, ds)["covered"]
            print(f"  step {h.last_step:6d}  {spent:7.1f} s  FID {fid:8.2f}  score {score:5.2f} "
                  f"({score / real_score:.0%} of real)  classes {covered}", flush=True)
            if fid_hit is None and fid <= 2 * floor:
                fid_hit = (spent, h.last_step)
            if score_hit is None and score >= 0.8 * real_score and covered == 10:
                score_hit = (spent, h.last_step)
            if fid_hit and (score_hit or ds != "mnist"):
                break
        for what, hit in (("FID <= 2x floor", fid_hit), ("score >= 80% of real, 10 classes", score_hit)):
            print(f"  {what}: " + (f"reached after {hit[0]:.1f} s ({hit[1]} steps)" if hit else
                                   f"not reached within {spent:.0f} s ({h.last_step} steps)"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 1)[1])
    p.add_argument("--what", default="throughput", help="comma-separated: throughput, ring, quality")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ... (default: auto)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per loop (default 30 on CPU, 500 on GPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 3 on CPU, 50 on GPU)")
    p.add_argument("--rounds", type=int, default=2, help="interleaved textbook/package rounds (median reported)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the textbook loop (its default: 2)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: one per physical core)")
    p.add_argument("--precision", default="fp32", choices=speed.PRECISIONS)
    p.add_argument("--cuda-graph", action="store_true", help="package loop: replay each step as a CUDA graph")
    p.add_argument("--compile", action="store_true", help="package loop: torch.compile the networks (CUDA)")
    p.add_argument("--reuse-fake", action="store_true",
                   help="quality: train with Options(reuse_fake=True) (one G pass less per step)")
    p.add_argument("--seeds", default="0,1,2", help="ring: seeds to average over")
    p.add_argument("--ring-seconds", type=float, default=60.0)
    p.add_argument("--max-seconds", type=float, default=None,
                   help="quality: training-time budget per dataset (default 180 on CPU, 120 on GPU)")
    p.add_argument("--eval-every", type=int, default=None, help="quality: steps between evaluations")
    p.add_argument("--datasets", default="mnist,fashion-mnist")
    args = p.parse_args(argv)

    device = gl.get_device(args.device)
    gpu = device.type != "cpu"
    args.steps = args.steps or (500 if gpu else 30)
    args.warmup = args.warmup if args.warmup is not None else (50 if gpu else 3)
    args.max_seconds = args.max_seconds or (120.0 if gpu else 180.0)
    args.eval_every = args.eval_every or (500 if gpu else 100)
    if min(args.steps, args.batch_size, args.width, args.rounds) < 1 or args.warmup < 0:
        p.error("--steps, --batch-size, --width and --rounds must be >= 1, --warmup >= 0")
    what = [w.strip() for w in args.what.split(",") if w.strip()]
    unknown = set(what) - {"throughput", "ring", "quality"}
    if unknown:
        p.error(f"unknown --what {sorted(unknown)}; choose from throughput, ring, quality")
    options = speed.Options(precision=args.precision, cuda_graph=args.cuda_graph, compile=args.compile)
    threads = args.threads
    if device.type == "cpu" and threads is None and hasattr(os, "getloadavg"):
        load, cores = os.getloadavg()[0], speed.physical_cores()
        if load > cores:  # the cores are already busy: more threads would only wait for each other
            threads = 1
            print(f"Load average {load:.1f} > {cores} cores: using 1 thread (pass --threads to override).")
    tuned = speed.tune_backends(device, threads=threads)
    if options.precision == "bf16" and not speed.bf16_supported(device):
        print(f"precision bf16: not supported fast on this {device.type} (no bfloat16 instructions); "
              "the package's loop falls back to fp32, so the bf16 numbers below are fp32 numbers.")
    print(f"{gl.describe_device(device)}  torch {torch.__version__}  settings {tuned}")
    if device.type == "cpu":
        print("Note: on a shared CPU the absolute numbers move with the load; compare the ratio.")
    if "throughput" in what:
        throughput(args, device, options)
    if "ring" in what:
        ring(args, device)
    if "quality" in what:
        quality(args, device, options)


if __name__ == "__main__":
    main()
