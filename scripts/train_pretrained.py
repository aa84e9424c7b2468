"""Train the generators shipped in gan_lessons/pretrained/ (lesson 07's "use the saved model").

Each run uses the package's own pieces: data.load_images, models.DCGANGenerator /
DCGANDiscriminator / DCGANCritic and train.train. After training it measures the run with
gan_lessons.metrics.evaluate, saves the generator (float16), the run's History (uint8 sample
grids, for the scrubber), and records everything in manifest.json: sha256 of each file, the
training configuration, steps, wall time, device and metrics. Uses the GPU when there is one.
Needs the classifiers (scripts/train_classifier.py) for the metrics.

    python scripts/train_pretrained.py                       # all runs, default settings
    python scripts/train_pretrained.py --run dcgan-mnist --steps 500 --out /tmp/try
    python scripts/train_pretrained.py --list
"""
import argparse
import sys
import time
from pathlib import Path

import torch

import gan_lessons as gl
from gan_lessons import metrics, models, pretrained, speed
from gan_lessons.data import load_images
from gan_lessons.train import train

# Sized for a 2-core CPU (minutes each, with the fast options of scripts/benchmark.py: bf16 autocast
# and reuse_fake for the BCE runs); on a GPU, pass --steps to train longer.
RUNS = {
    "dcgan-mnist": dict(dataset="mnist", loss="bce", k=1, steps=30000, lr=2e-4, precision="bf16", reuse_fake=True),
    "dcgan-fashion-mnist": dict(dataset="fashion-mnist", loss="bce", k=1, steps=30000, lr=2e-4, precision="bf16",
                                reuse_fake=True),
    "wgan-gp-mnist": dict(dataset="mnist", loss="wgan-gp", k=3, steps=1500, lr=2e-4),
}


def device_label(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device.index or 0)
    return f"cpu ({torch.get_num_threads()} threads)" if device.type == "cpu" else device.type


def log_snapshot(history):
    """One line per snapshot, for logs of runs without a progress bar."""
    s = history[-1]
    if s["step"] % (10 * history.meta["config"]["record_every"]) == 0:
        print(f"  step {s['step']:5d}  {s['time']:6.0f} s  d_loss {s.get('d_loss', float('nan')):7.3f}  "
              f"g_loss {s.get('g_loss', float('nan')):7.3f}", flush=True)


def train_run(name, spec, args, device):
    steps = args.steps or spec["steps"]
    k = args.k or spec["k"]
    gl.seed_everything(args.seed)
    data = load_images(spec["dataset"], "train", device=device)
    G = models.DCGANGenerator(args.latent_dim, args.width).to(device)
    D = (models.DCGANCritic(args.width) if spec["loss"] != "bce" else models.DCGANDiscriminator(args.width)).to(device)
    record_every = max(1, steps // args.snapshots)
    t0 = time.perf_counter()
    options = speed.Options(precision=spec.get("precision", "fp32"), reuse_fake=spec.get("reuse_fake", False))
    step = speed.fast_step(G, D, options, data=data)
    history = train(G, D, data, steps, batch_size=args.batch_size, k=k, loss=spec["loss"], lr=spec["lr"],
                    record_every=record_every, n_fixed=args.n_fixed, progress=args.progress, seed=args.seed,
                    callback=None if args.progress else log_snapshot, step=step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    G.eval()
    scores = metrics.evaluate(G, spec["dataset"], n=args.eval_n, seed=args.seed)
    config = dict(dataset=spec["dataset"], loss=spec["loss"], k=k, steps=steps, batch_size=args.batch_size,
                  lr=spec["lr"], latent_dim=args.latent_dim, width=args.width, seed=args.seed,
                  record_every=record_every, n_fixed=args.n_fixed, **options.config,
                  discriminator=type(D).__name__, discriminator_parameters=models.count_parameters(D))
    return G, history, config, wall, scores


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", choices=sorted(RUNS), help="which run (repeatable; default: all)")
    p.add_argument("--list", action="store_true", help="list the runs and their settings, then exit")
    p.add_argument("--steps", type=int, default=None, help="generator steps (default: per run, see --list)")
    p.add_argument("--k", type=int, default=None, help="D / critic steps per G step (default: per run)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=32, help="DCGAN width (channels of the first conv)")
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--snapshots", type=int, default=40, help="about this many History snapshots")
    p.add_argument("--n-fixed", type=int, default=36, help="samples per snapshot (the scrubber's grid)")
    p.add_argument("--eval-n", type=int, default=10000, help="generated images for the metrics")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.add_argument("--out", default=str(pretrained.PRETRAINED_DIR))
    args = p.parse_args(argv)
    if args.list:
        for name, spec in RUNS.items():
            print(f"{name:24s} {spec}")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    device = gl.get_device(args.device, verbose=True)
    for name in args.run or list(RUNS):
        spec = RUNS[name]
        print(f"== {name}: {spec}", flush=True)
        G, history, config, wall, scores = train_run(name, spec, args, device)
        weights = Path(pretrained.save_weights(G, f"{args.out}/{name}.pt"))
        hist_path = Path(history.save(f"{args.out}/{name}.history.pt"))
        try:
            manifest = pretrained.read_manifest(args.out)
        except gl.CheckpointError:
            manifest = {}
        manifest.setdefault("classifiers", {})
        manifest.setdefault("models", {})[name] = {
            "file": weights.name, "sha256": pretrained.sha256_of(weights),
            "history": hist_path.name, "history_sha256": pretrained.sha256_of(hist_path),
            "class": type(G).__name__, "config": dict(G.config), "parameters": models.count_parameters(G),
            "training": config, "steps": history.last_step, "wall_s": round(wall, 1),
            "device": device_label(device), "torch": torch.__version__, "metrics": scores,
        }
        pretrained.write_manifest(manifest, args.out)
        size = weights.stat().st_size / 1024, hist_path.stat().st_size / 1024
        print(f"{name}: {history.last_step} steps in {wall:.0f} s; weights {size[0]:.0f} KB, history "
              f"{size[1]:.0f} KB; metrics {scores}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
