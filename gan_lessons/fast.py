"""Optional speed-ups for the training loop (lesson 07, training a DCGAN; used by `train.train`).

The lessons' loop is already the fast *kind* of loop: the data lives on the device and a batch is
drawn by indexing (no DataLoader, no per-batch transforms), losses are summed on the device and read
back only when a snapshot is recorded (no `.item()` per step, so no host sync per step), and
gradients are reset with `zero_grad(set_to_none=True)`. What is left is here, all opt-in through
`train.train(...)` keywords, so the lessons' code stays the plain code:

- `precision="bf16"`: the forward passes run under `torch.autocast` in bfloat16 (about 2x the
  matrix throughput of float32 on a recent GPU; also works on CPUs). Losses and weights stay float32.
- `cuda_graph=True` (CUDA only): the whole step (sample a batch, k discriminator steps, one generator
  step, both optimizer updates) is recorded once as a CUDA graph and replayed, so Python and the
  kernel launches stop being the bottleneck for these small models.
- `compile=True` (CUDA only): `torch.compile` the two networks (mode "default"). Not
  "reduce-overhead": D runs three times per step, which defeats its CUDA graphs; use `cuda_graph`.
  No channels_last either: with it, compiling ConvTranspose2d's backward crashed on our H100.

- `channels_last` (automatic on a CPU): convolutional networks are stored channels-last, the layout
  oneDNN's CPU convolutions are fastest with.

Everything falls back to the plain path, with a warning, where it cannot apply (e.g. `cuda_graph`
on a CPU), so a notebook written for a GPU still runs on a laptop.
"""
import os
import warnings

import torch
from torch import nn

PRECISIONS = ("fp32", "bf16")
COMPILE_MODES = ("default", "max-autotune-no-cudagraphs")


def check_options(precision="fp32", cuda_graph=False, compile=False, loss=None):
    """Validate the speed options of `train.train` and return (precision, cuda_graph, compile_mode) (lesson 07).

    compile_mode is None when not compiling. Raises a ValueError/TypeError that says what to pass.
    """
    if precision is None:
        precision = "fp32"
    aliases = {"float32": "fp32", "bfloat16": "bf16", torch.float32: "fp32", torch.bfloat16: "bf16"}
    if isinstance(precision, (str, torch.dtype)):
        precision = aliases.get(precision, precision)
    if precision not in PRECISIONS:
        hint = " fp16 needs loss scaling and is not supported; bf16 has float32's range and needs none." \
            if str(precision).lower() in ("fp16", "float16", "half", "torch.float16") else ""
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.{hint}")
    if not isinstance(cuda_graph, bool):
        raise TypeError(f"cuda_graph must be True or False, got {cuda_graph!r}.")
    if compile is True:
        mode = "default"
    elif compile is False or compile is None:
        mode = None
    elif compile in COMPILE_MODES:
        mode = compile
    else:
        hint = (" 'reduce-overhead' uses CUDA graphs per network call, and D is called three times per "
                "step; pass cuda_graph=True instead to graph the whole step.") if compile == "reduce-overhead" else ""
        raise ValueError(f"compile must be True, False or one of {', '.join(COMPILE_MODES)}, got {compile!r}.{hint}")
    if mode is not None and cuda_graph:
        raise ValueError("Choose either compile=... or cuda_graph=True, not both: the compiled networks "
                         "would be captured inside our graph, which torch.compile does not support.")
    if mode is not None and loss == "wgan-gp":
        raise ValueError("compile cannot be used with loss='wgan-gp': the gradient penalty differentiates "
                         "twice (double backward), which compiled networks do not support. Use "
                         "cuda_graph=True instead.")
    return precision, cuda_graph, mode


def bf16_supported(device):
    """Whether bfloat16 autocast is worth using on `device` (lesson 07): a CPU, or a CUDA GPU with bf16."""
    device = torch.device(device)
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return False


class Autocast(nn.Module):
    """Runs `module`'s forward under bfloat16 autocast and returns float32 (lesson 07).

    Wrapping the network (rather than the whole step) keeps autocast to the forward pass, as the
    PyTorch docs recommend: the losses are computed from float32 outputs and backward runs outside
    the autocast region. The wrapper shares the module's parameters; attributes such as
    `latent_dim` are forwarded to it.
    """

    def __init__(self, module, dtype=torch.bfloat16):
        super().__init__()
        self.module = module
        self.dtype = dtype

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)

    def forward(self, x):
        device_type = next(self.module.parameters()).device.type
        # cache_enabled=False: the weight-cast cache is useless here (each region is one forward) and
        # CUDA graph capture requires it off.
        with torch.autocast(device_type, dtype=self.dtype, cache_enabled=False):
            out = self.module(x)
        return out.float()


def prepare_models(G, D, precision="fp32", compile=None):
    """The networks the training steps should call: G and D themselves, or wrapped (lesson 07).

    precision="bf16" wraps both in `Autocast` (falls back to float32 with a warning where bf16 is not
    supported); compile="default" (CUDA only) wraps them in torch.compile. Parameters are shared
    with G and D either way, so optimizers, checkpoints and snapshots keep using G and D.
    """
    device = next(G.parameters()).device
    if precision == "bf16":
        if bf16_supported(device):
            G, D = Autocast(G), Autocast(D)
        else:
            warnings.warn(f"precision='bf16' is not supported on {device}; training in float32.", stacklevel=3)
    if compile is not None:
        if device.type == "cuda":
            G, D = torch.compile(G, mode=compile), torch.compile(D, mode=compile)
        else:
            warnings.warn(f"compile is only used on CUDA GPUs (on {device} the compile time outweighs the "
                          "gain for these small networks); training without it.", stacklevel=3)
    return G, D


def has_convolutions(model):
    """Whether `model` has a convolution or transposed convolution layer (lesson 07)."""
    return any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())


def set_channels_last(G, D, ema=None, channels_last=None):
    """Store convolutional G and D (and an EMA copy of G) channels-last; returns whether it did (lesson 07).

    channels_last=None decides by itself: yes on a CPU, where oneDNN's convolutions and transposed
    convolutions run faster on channels-last tensors (measured: a whole DCGAN step 5-10% faster, a
    single 64->1 transposed convolution 4x), no on GPUs (keep what cuDNN picks). True forces it, False
    leaves the networks alone. Only the memory layout changes: shapes, values and results do not.
    """
    if channels_last is None:
        channels_last = next(G.parameters()).device.type == "cpu"
    if not isinstance(channels_last, bool):
        raise TypeError(f"channels_last must be True, False or None (auto), got {channels_last!r}")
    if not channels_last:
        return False
    done = False
    for model in (G, D, None if ema is None else ema.model):
        if model is not None and has_convolutions(model):
            model.to(memory_format=torch.channels_last)
            done = True
    return done


def make_capturable(optimizer):
    """Let an optimizer's step run inside a CUDA graph (lesson 07).

    Adam and RMSprop keep a step counter; with capturable=True it lives on the GPU, so the graph
    can increment it. Counters already on the CPU (a resumed run) are moved. Optimizers without
    the option (SGD) need nothing.
    """
    if "capturable" not in optimizer.defaults:
        if any("step" in s for s in optimizer.state.values()):
            raise ValueError(f"{type(optimizer).__name__} keeps a step counter but has no capturable option, "
                             "so its step cannot be recorded in a CUDA graph; train with cuda_graph=False.")
        return optimizer
    for group in optimizer.param_groups:
        group["capturable"] = True
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            if "step" in state and torch.is_tensor(state["step"]) and state["step"].device != p.device:
                state["step"] = state["step"].to(device=p.device, dtype=torch.float32)
    return optimizer


class GraphedStep:
    """Replays a whole training step as one CUDA graph (lesson 07).

    `step_fn()` must do everything on the GPU (sample its own batch and noise with torch's CUDA
    random generator, call the optimizers) and return a tuple of tensors. The first `warmup` calls
    run it normally on a side stream (they train for real: cuDNN picks its algorithms, Adam creates
    its state), the next call records it and then replays it, every later call only replays it.
    The returned tensors are the same static tensors each time: read them (or add them to a sum)
    before the next call.
    """

    def __init__(self, step_fn, optimizers, warmup=3):
        if not torch.cuda.is_available():
            raise RuntimeError("GraphedStep needs a CUDA GPU; use the plain step on this machine.")
        if not isinstance(warmup, int) or warmup < 1:
            raise ValueError(f"warmup must be an integer >= 1 (the optimizers need a first step), got {warmup!r}")
        self.step_fn, self.optimizers, self.warmup = step_fn, list(optimizers), warmup
        for opt in self.optimizers:
            make_capturable(opt)
        self.calls, self.graph, self.out = 0, None, None

    def __call__(self):
        if self.graph is None and self.calls < self.warmup:
            self.calls += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.step_fn()
            torch.cuda.current_stream().wait_stream(side)
            return out
        if self.graph is None:
            # Gradients set to None now are created inside the graph's private memory pool by the
            # captured backward passes, and written again in place by every replay.
            for opt in self.optimizers:
                opt.zero_grad(set_to_none=True)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.out = self.step_fn()
        self.graph.replay()  # capture only recorded the kernels; this runs the step
        return self.out


def physical_cores():
    """Physical CPU cores available to this process (hyper-threads not counted) (lesson 00/07)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    siblings = 1
    try:
        with open("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list") as f:
            text = f.read().strip()  # e.g. "0,64" or "0-1" or "0"
        for part in text.split(","):
            a, _, b = part.partition("-")
            siblings = max(siblings, int(b) - int(a) + 1 if b else 1)
        siblings = max(siblings, len(text.split(",")))
    except (OSError, ValueError):
        pass
    return max(1, usable // siblings)


def tune_backends(device, threads=None):
    """Global settings that speed up training on `device`; returns a dict of what was set (lesson 07).

    CPU: one intra-op thread per physical core (more threads than cores only fight each other;
    pass `threads` to share the machine). CUDA: cuDNN autotuning (our shapes never change) and TF32
    matrix multiplies (float32 storage, 10-bit mantissa in the tensor cores).
    """
    device = torch.device(device)
    done = {}
    if device.type == "cpu":
        n = physical_cores() if threads is None else int(threads)
        if n < 1:
            raise ValueError(f"threads must be >= 1, got {threads!r}")
        torch.set_num_threads(n)
        done["threads"] = n
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        done.update(cudnn_benchmark=True, tf32=True)
    return done


def ring_gan_recipe(seed=0):
    """A GAN set up to cover all 8 modes of `toy.Ring2D()` with sharp samples, quickly on a CPU (lesson 05).

    Returns (G, D, train_kwargs): call `train.train(G, D, toy.Ring2D(), **train_kwargs)`.
    The settings are in RING_RECIPE: a deeper MLP pair (3 hidden layers of 128), large batches
    (1024: less noisy gradients, fewer modes dropped), Adam at lr 1e-3, both learning rates cut to
    0.3x after 40% of the steps (by a callback at a snapshot), which stops the generator wandering
    between modes once it covers them and lets each mode tighten, and `reuse_fake` (one generator
    pass less per step, so more steps fit in the time). RING_RECIPE["r1_weight"] = 0.1 adds an R1
    penalty (`losses.r1_penalty`): measured, it covers all 8 modes on seeds 0-4 where the plain recipe
    misses one on seeds 3 and 4, but each step costs 65% more and the samples are less sharp.
    """
    from .device import seed_everything
    from .models import MLPDiscriminator, MLPGenerator
    from .train import make_optimizers

    r = RING_RECIPE
    seed_everything(seed)
    G = MLPGenerator(r["latent_dim"], 2, hidden=r["hidden"], layers=r["layers"])
    D = MLPDiscriminator(2, hidden=r["hidden"], layers=r["layers"])
    opt_G, opt_D = make_optimizers(G, D, "bce", lr=r["lr"])
    for opt in (opt_G, opt_D):
        for group in opt.param_groups:
            group["betas"] = r["betas"]
    decay_step = int(r["decay_at"] * r["steps"])
    done = []

    def decay_lr(history):
        if not done and history.last_step >= decay_step:
            done.append(history.last_step)
            for opt in (opt_G, opt_D):
                for group in opt.param_groups:
                    group["lr"] *= r["decay"]

    record_every = max(1, decay_step // 5)  # a snapshot lands on decay_step
    kwargs = dict(steps=r["steps"], batch_size=r["batch_size"], loss="bce", opt_G=opt_G, opt_D=opt_D,
                  record_every=record_every, callback=decay_lr, reuse_fake=r["reuse_fake"],
                  r1_weight=r["r1_weight"])
    return G, D, kwargs


# Found with scripts/benchmark.py --what ring and the sweeps in the README's Speed section.
RING_RECIPE = dict(latent_dim=2, hidden=128, layers=3, lr=1e-3, betas=(0.5, 0.999), batch_size=1024,
                   steps=6000, decay_at=0.4, decay=0.3, reuse_fake=True, r1_weight=0.0)
