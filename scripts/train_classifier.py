"""Train the feature networks that lesson 07's metrics use, and ship them in gan_lessons/pretrained/.

One LeNet-style CNN per dataset (gan_lessons.featurenet.FeatureNet), trained to classify the real
training split with Adam, evaluated on the test split. The weights are saved in float16 and the
manifest gets the file's sha256 and the test accuracy (under "classifiers", file
classifier-<dataset>.pt: the names the shipped files have always had).

    python scripts/train_classifier.py                      # both datasets
    python scripts/train_classifier.py --dataset mnist --epochs 3
"""
import argparse
import sys
import time

import torch
import torch.nn.functional as F

import gan_lessons as gl
from gan_lessons import pretrained
from gan_lessons.data import canonical_name, load_images
from gan_lessons.featurenet import FeatureNet

DEFAULT_EPOCHS = {"mnist": 4, "fashion-mnist": 8}


def random_shift(x, max_shift=2, generator=None):
    """Shift each image by up to `max_shift` pixels (zero padding = background -1): cheap augmentation."""
    b = x.shape[0]
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)  # [B, 1, 28+2s, 28+2s]
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    rows = (dy[:, None] + torch.arange(28)[None, :]).to(x.device)  # [B, 28]
    cols = (dx[:, None] + torch.arange(28)[None, :]).to(x.device)  # [B, 28]
    idx = torch.arange(b, device=x.device)[:, None, None]
    return padded[idx, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)  # [B, 1, 28, 28]


def device_label(device):
    """'cpu (2 threads)' or the GPU's name: recorded in the manifest."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device.index or 0)
    return f"{device.type} ({torch.get_num_threads()} threads)" if device.type == "cpu" else device.type


@torch.no_grad()
def accuracy(model, data, batch_size=1000):
    model.eval()
    correct = 0
    for i in range(0, len(data.labels), batch_size):
        logits = model(data.images[i:i + batch_size])
        correct += (logits.argmax(1) == data.labels[i:i + batch_size]).sum().item()
    return correct / len(data.labels)


def train_one(dataset, epochs, batch_size, lr, seed, device, shift):
    gl.seed_everything(seed)
    g = torch.Generator().manual_seed(seed)
    train_data = load_images(dataset, "train", device=device)
    test_data = load_images(dataset, "test", device=device)
    model = FeatureNet().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(train_data.labels)
    steps_per_epoch = n // batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(n, generator=g).to(device)
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]
            x, y = train_data.images[idx], train_data.labels[idx]
            if shift:
                x = random_shift(x, shift, generator=g)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = accuracy(model, test_data)
        print(f"{dataset}: epoch {epoch + 1}/{epochs}  loss {loss.item():.4f}  test accuracy {acc:.4f}  "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    wall = time.perf_counter() - t0
    return model.cpu(), acc, wall


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=["mnist", "fashion-mnist", "both"], default="both")
    p.add_argument("--epochs", type=int, default=None, help="default: 4 for MNIST, 8 for Fashion-MNIST")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--shift", type=int, default=2, help="random shift augmentation in pixels (0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--out", default=str(pretrained.PRETRAINED_DIR))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = gl.get_device(args.device, verbose=True)
    names = ["mnist", "fashion-mnist"] if args.dataset == "both" else [canonical_name(args.dataset)]
    for name in names:
        epochs = args.epochs or DEFAULT_EPOCHS[name]
        model, acc, wall = train_one(name, epochs, args.batch_size, args.lr, args.seed, device, args.shift)
        fname = f"classifier-{name}.pt"
        path = pretrained.save_weights(model, f"{args.out}/{fname}")
        try:
            manifest = pretrained.read_manifest(args.out)
        except gl.CheckpointError:
            manifest = {}
        manifest.setdefault("classifiers", {})[name] = {
            "file": fname, "sha256": pretrained.sha256_of(path), "class": type(model).__name__,
            "test_accuracy": round(acc, 4), "epochs": epochs, "batch_size": args.batch_size, "lr": args.lr,
            "shift": args.shift, "seed": args.seed, "wall_s": round(wall, 1), "device": device_label(device),
            "torch": torch.__version__, "parameters": sum(p.numel() for p in model.parameters()),
        }
        manifest.setdefault("models", {})
        pretrained.write_manifest(manifest, args.out)
        print(f"saved {path} ({path.stat().st_size / 1024:.0f} KB), test accuracy {acc:.4f}, {wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
