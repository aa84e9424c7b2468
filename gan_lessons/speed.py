"""Training faster: a drop-in `step` for `train.train` (lesson 07 explains it; scripts use it).

The lessons' loop is already the fast *kind* of loop: the data lives on the device and a batch is
drawn by indexing (no DataLoader, no per-batch transforms), losses are summed on the device and read
back only at a snapshot (no `.item()`, so no host sync, per step), and gradients are reset with
`zero_grad(set_to_none=True)`. What is left is here, in one place, so the lessons' code stays plain:

    options = gl.speed.Options(precision="bf16", reuse_fake=True)
    history = gl.train.train(G, D, data, steps, step=gl.speed.fast_step(G, D, options))

`Options` fields (all off by default; where one cannot apply it warns once and is skipped):
- precision="bf16": forward passes under bfloat16 autocast (about 2x the matrix throughput on a
  recent GPU, and on CPUs with bfloat16 instructions; on other CPUs it would be ~10x *slower*, so
  there it falls back to float32). Losses and weights stay float32.
- reuse_fake=True: G's step scores the last D step's fakes again instead of drawing fresh z, as
  pytorch/examples' DCGAN does: one generator forward pass less per step.
- ema=EMA(G): a running average of G's weights, updated after every step; sample from `ema.model`.
- cuda_graph=True (CUDA, image data): the whole step is recorded once as a CUDA graph and replayed.
- compile=True (CUDA): torch.compile the two networks.
- channels_last (None = automatic: yes on a CPU, where oneDNN's convolutions are faster with it).
"""
import copy
import dataclasses
import functools
import os
import warnings
from typing import Optional, Union

import torch
from torch import nn

from .train import critic_step, d_step, g_step, gan_step, sample_z

PRECISIONS = ("fp32", "bf16")
COMPILE_MODES = ("default", "max-autotune-no-cudagraphs")
PENALTIES = ("r1_weight", "gp_weight", "clip")  # what train.gan_step passes on to the D or critic step


class EMA:
    """An exponential moving average of a generator's weights.

    A GAN's generator keeps moving as D changes its mind, so its latest weights are a noisy point
    on that path; their running average makes cleaner samples (Yazici et al., 2019). After each
    generator step, `update(G)` moves `ema.model` (a copy of G, in eval mode, never trained) a
    fraction 1 - decay towards G. The decay starts low and rises to `decay` ((1 + n) / (10 + n)
    after n updates), so the average does not remember the random start. Buffers (batch norm's
    running statistics) are copied from G. Pass it as `Options(ema=EMA(G))`.
    """

    def __init__(self, G, decay=0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), e.g. 0.999 (averages about the last 1000 steps); got {decay!r}")
        self.model = copy.deepcopy(G).eval().requires_grad_(False)
        self.decay, self.updates = float(decay), 0

    @torch.no_grad()
    def update(self, G):
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ours, theirs = list(self.model.parameters()), list(G.parameters())
        if len(ours) != len(theirs):
            raise ValueError("EMA.update got a model with a different architecture from the one it averages.")
        torch._foreach_lerp_(ours, theirs, 1.0 - decay)  # avg += (1 - decay) * (p - avg), all tensors at once
        for a, b in zip(self.model.buffers(), G.buffers()):
            a.copy_(b)

    def state_dict(self):
        return {"model": self.model.state_dict(), "decay": self.decay, "updates": self.updates}

    def load_state_dict(self, state):
        self.model.load_state_dict(state["model"])
        self.decay, self.updates = float(state["decay"]), int(state["updates"])


@dataclasses.dataclass
class Options:
    """The speed options of `fast_step` (see the module's docstring); checked when made."""

    precision: str = "fp32"
    reuse_fake: bool = False
    ema: Optional[EMA] = None
    cuda_graph: bool = False
    compile: Union[bool, str] = False
    channels_last: Optional[bool] = None

    def __post_init__(self):
        aliases = {"float32": "fp32", "bfloat16": "bf16", None: "fp32", torch.float32: "fp32", torch.bfloat16: "bf16"}
        self.precision = aliases.get(self.precision, self.precision)
        if self.precision not in PRECISIONS:
            hint = " fp16 needs loss scaling and is not supported; bf16 has float32's range and needs none." \
                if str(self.precision).lower() in ("fp16", "float16", "half", "torch.float16") else ""
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}.{hint}")
        for name in ("reuse_fake", "cuda_graph"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        if self.channels_last is not None and not isinstance(self.channels_last, bool):
            raise TypeError(f"channels_last must be True, False or None (auto), got {self.channels_last!r}")
        if self.ema is not None and not isinstance(self.ema, EMA):
            raise TypeError(f"ema must be a gan_lessons.speed.EMA (ema=EMA(G)), got {type(self.ema).__name__}")
        self.compile = {True: "default", False: None, None: None}.get(self.compile, self.compile)
        if self.compile is not None and self.compile not in COMPILE_MODES:
            hint = (" 'reduce-overhead' uses CUDA graphs per network call, and D is called three times per "
                    "step; pass cuda_graph=True instead to graph the whole step.") \
                if self.compile == "reduce-overhead" else ""
            raise ValueError(f"compile must be True, False or one of {', '.join(COMPILE_MODES)}, "
                             f"got {self.compile!r}.{hint}")
        if self.compile is not None and self.cuda_graph:
            raise ValueError("Choose either compile=... or cuda_graph=True, not both: the compiled networks "
                             "would be captured inside our graph, which torch.compile does not support.")

    @property
    def config(self):
        """What a history records of these options (plain values, so it saves and loads safely)."""
        out = dict(precision=self.precision, reuse_fake=self.reuse_fake, cuda_graph=self.cuda_graph,
                   compile=self.compile or False)
        if self.ema is not None:
            out["ema_decay"] = self.ema.decay
        return out


# -- what the options do to the networks -----------------------------------------------------------

def bf16_supported(device):
    """Whether bfloat16 autocast is fast on `device`: a CUDA GPU with bf16, or a CPU with bf16
    instructions (AVX512-BF16 or AMX). Elsewhere it is emulated, about 10x slower than float32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


class Autocast(nn.Module):
    """Runs `module`'s forward under bfloat16 autocast and returns float32.

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
    """The networks the steps should call: G and D themselves, or wrappers sharing their parameters.

    precision="bf16" wraps both in `Autocast` (float32 with a warning where bf16 is slow);
    compile="default" (CUDA only) wraps them in torch.compile.
    """
    device = next(G.parameters()).device
    if precision == "bf16":
        if bf16_supported(device):
            G, D = Autocast(G), Autocast(D)
        else:
            warnings.warn(f"precision='bf16' would be slow on this {device.type} (no bfloat16 instructions: "
                          "it would be emulated); training in float32.", stacklevel=3)
    if compile is not None:
        if device.type == "cuda":
            G, D = torch.compile(G, mode=compile), torch.compile(D, mode=compile)
        else:
            warnings.warn(f"compile is only used on CUDA GPUs (on {device} the compile time outweighs the "
                          "gain for these small networks); training without it.", stacklevel=3)
    return G, D


def has_convolutions(model):
    """Whether `model` has a convolution or transposed convolution layer."""
    return any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())


def set_channels_last(G, D, ema=None, channels_last=None):
    """Store convolutional G and D (and an EMA copy of G) channels-last; returns whether it did.

    channels_last=None decides by itself: yes on a CPU, where oneDNN's convolutions and transposed
    convolutions run faster on channels-last tensors (measured: a whole DCGAN step 5-10% faster, a
    single 64->1 transposed convolution 4x), no on GPUs (keep what cuDNN picks). Only the memory
    layout changes: shapes, values and results do not.
    """
    asked = channels_last is True
    if channels_last is None:
        channels_last = next(G.parameters()).device.type == "cpu"
    if not channels_last:
        return False
    if asked and not (has_convolutions(G) or has_convolutions(D)):
        warnings.warn("channels_last=True changes only how convolutions store images, and G and D have no "
                      "convolution: it does nothing here.", stacklevel=3)
    done = False
    for model in (G, D, None if ema is None else ema.model):
        if model is not None and has_convolutions(model):
            model.to(memory_format=torch.channels_last)
            done = True
    return done


# -- CUDA graphs ---------------------------------------------------------------------------------

def make_capturable(optimizer):
    """Let an optimizer's step run inside a CUDA graph.

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
    """Replays a whole training step as one CUDA graph.

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


# -- the fast step ---------------------------------------------------------------------------------

def gan_step_reuse_fake(G, D, opt_G, opt_D, sample_real, batch_size, k=1, loss="bce", saturating=False,
                        **penalty):
    """`train.gan_step` with one generator pass less: G's step scores the last D step's fakes again.

    The fakes of the last D step are made with their graph kept, the D step detaches them, and G's
    step backpropagates through them (pytorch/examples' DCGAN). Same signature and return as gan_step.
    """
    device = next(G.parameters()).device
    for i in range(k):
        real = sample_real(batch_size)  # [B, ...]
        z = sample_z(batch_size, G.latent_dim, device)  # [B, latent_dim]
        fake = G(z) if i == k - 1 else G(z).detach()  # the last one keeps its graph for G's step
        if loss == "bce":
            d_loss, real_out, fake_out = d_step(G, D, opt_D, real, z, fake=fake, **penalty)
        else:
            constraint = "gp" if loss == "wgan-gp" else "clip"
            d_loss, real_out, fake_out = critic_step(D, opt_D, real, fake.detach(), constraint, **penalty)
    g_loss = g_step(G, D, opt_G, None, saturating, loss, fake=fake)
    return d_loss, real_out, fake_out, g_loss


class FastStep:
    """A `step` for `train.train` that applies `Options`; made by `fast_step`."""

    def __init__(self, G, D, options, penalty):
        self.G, self.D, self.options, self.penalty = G, D, options, penalty
        self.G_run, self.D_run = prepare_models(G, D, options.precision, options.compile)
        self.algorithm = gan_step_reuse_fake if options.reuse_fake else gan_step
        self.graphed = None
        self.config = dict(options.config, **penalty)

    def __call__(self, G, D, opt_G, opt_D, sample_real, batch_size, k, loss, saturating):
        if G is not self.G or D is not self.D:
            raise ValueError("This fast step was built for other models than the G and D being trained (it would "
                             "train those): make one per run, step=gl.speed.fast_step(G, D, options), with the same "
                             "G and D you pass to train.")
        if self.options.compile is not None and loss == "wgan-gp":
            raise ValueError("compile cannot be used with loss='wgan-gp': the gradient penalty differentiates "
                             "twice (double backward), which compiled networks do not support. Use "
                             "cuda_graph=True instead.")
        one = functools.partial(self.algorithm, self.G_run, self.D_run, opt_G, opt_D, sample_real, batch_size,
                                k, loss, saturating, **self.penalty)
        if self.options.cuda_graph:
            if self.graphed is None:
                self.graphed = GraphedStep(one, [opt_G, opt_D])
            out = self.graphed()
        else:
            out = one()
        if self.options.ema is not None:
            self.options.ema.update(G)
        return out


def fast_step(G, D, options=None, data=None, **penalty):
    """A `step` for `train.train(..., step=...)` that trains G and D with the speed `options`.

    Call it once per run, before training: it stores convolutional networks channels-last (on a
    CPU, unless options.channels_last=False) and wraps G and D for bf16 or torch.compile (the
    wrappers share their parameters, so optimizers, snapshots and checkpoints use G and D as usual).
    data: the training data, to check that cuda_graph can apply (it needs image data on CUDA).
    penalty: r1_weight, gp_weight or clip for the D step, as `train.gan_step` takes them.
    """
    options = Options() if options is None else options
    if not isinstance(options, Options):
        raise TypeError(f"options must be gan_lessons.speed.Options(...), got {type(options).__name__}")
    for name, value in penalty.items():
        if name not in PENALTIES:
            raise TypeError(f"fast_step got an unknown penalty {name!r}; it takes {', '.join(PENALTIES)}.")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    device = next(G.parameters()).device
    if options.cuda_graph and (device.type != "cuda" or not torch.is_tensor(getattr(data, "images", data))):
        why = f"the models are on {device}" if device.type != "cuda" else "toy data is sampled on the CPU"
        warnings.warn(f"cuda_graph=True needs CUDA and image data, but {why}; training without it.", stacklevel=2)
        options = dataclasses.replace(options, cuda_graph=False)
    set_channels_last(G, D, options.ema, options.channels_last)  # a memory layout only: no result changes
    return FastStep(G, D, options, penalty)


# -- the machine ----------------------------------------------------------------------------------

def physical_cores():
    """Physical CPU cores available to this process (hyper-threads not counted)."""
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
    """Global settings that speed up training on `device`; returns a dict of what was set.

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
