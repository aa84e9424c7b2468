"""Choosing a device and seeding random number generators (lesson 00).

The learner never types "cuda": `get_device()` picks CUDA, then Apple MPS, then the CPU, unless
the environment variable ``GAN_LESSONS_DEVICE`` (or the `prefer` argument) says otherwise.
"""
import os
import random

import numpy as np
import torch

ENV_DEVICE = "GAN_LESSONS_DEVICE"


def _mps_available():
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(prefer=None, verbose=False):
    """Return the `torch.device` to train on (introduced in lesson 00).

    Order: `prefer` if given (e.g. "cpu", "cuda", "cuda:1", "mps", or "auto"), else the
    environment variable GAN_LESSONS_DEVICE, else CUDA, then MPS, then CPU.
    """
    choice = prefer if prefer not in (None, "", "auto") else os.environ.get(ENV_DEVICE, "auto")
    choice = str(choice).strip().lower() or "auto"
    if choice == "auto":
        if torch.cuda.is_available():
            device = torch.device("cuda")
        elif _mps_available():
            device = torch.device("mps")
        else:
            device = torch.device("cpu")
    else:
        try:
            device = torch.device(choice)
        except RuntimeError as e:
            raise ValueError(
                f"Unknown device {choice!r} (from {'argument' if prefer else ENV_DEVICE}). "
                "Use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'."
            ) from e
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"Device {choice!r} was asked for, but PyTorch sees no CUDA GPU here. "
                f"Use 'auto' or 'cpu' (unset {ENV_DEVICE} or pass device='auto')."
            )
        if device.type == "mps" and not _mps_available():
            raise ValueError("Device 'mps' was asked for, but Apple MPS is not available here. Use 'auto' or 'cpu'.")
    if verbose:
        print(describe_device(device))
    return device


def describe_device(device=None):
    """One line telling the learner where training will run (`get_device(verbose=True)` prints it)."""
    device = torch.device(device) if device is not None else get_device()
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"Using GPU: {torch.cuda.get_device_name(index)} ({device})"
    if device.type == "mps":
        return "Using Apple GPU (mps)"
    n = torch.get_num_threads()
    return f"Using CPU ({n} thread{'s' if n != 1 else ''}). Training is sized for this; a GPU is used when present."


def seed_everything(seed):
    """Seed Python, NumPy and PyTorch so a CPU run repeats number for number (lesson 00).

    Returns a `torch.Generator` seeded the same way, handy for sampling fixed noise.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g
