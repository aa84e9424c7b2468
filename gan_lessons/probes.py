"""Looking inside one training step: which weights changed, who got gradients, how big (lessons 03-04).

Lessons 03 and 04 take the GAN step apart. These helpers answer the questions those lessons ask:
did this step change D, G, or both (`copy_params` before, `changed_params` after)? did a network
receive gradients (`has_grad`, `grad_norm`)? how strongly does D's verdict push G under each
generator loss (`generator_grad_norm`, `generator_loss_curves`)? how well does D separate real
from fake (`d_probs`)? how much work does a step do, and in which network (`count_flops`)? Their
pictures are in `gan_lessons.plots` (`plot_score_histograms`, `plot_generator_loss_curves`,
`plot_series`). The exercise checks also watch a learner's step from the outside: what autograd and
the optimizer did during it (`watch_step`), and whether it draws random numbers of its own
(`depends_on_seed`).
"""
import contextlib
import math

import torch

from . import losses
from .train import frozen


def _check_module(model, who):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{who} expects a torch.nn.Module (e.g. a generator or discriminator), "
                        f"got {type(model).__name__}")


def copy_params(model):
    """A copy of every parameter of `model`, {name: tensor}, to compare against after a step (lessons 03, 04).

    Copies, not references: the optimizer updates parameters in place, so keeping the tensors
    themselves would "change" the copy too.
    """
    _check_module(model, "copy_params")
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def changed_params(model, before, atol=0.0):
    """Names of the parameters of `model` that differ from the copy `before` (lessons 03, 04).

    before: what `copy_params(model)` returned before the step. An empty list means the model is
    exactly as it was. `atol` lets tiny differences through.
    """
    _check_module(model, "changed_params")
    now = dict(model.named_parameters())
    if set(now) != set(before):
        raise ValueError("The copy was taken from a different model (parameter names differ). "
                         "Take it with copy_params(model) from the same model.")
    return [name for name, p in now.items()
            if not torch.allclose(p.detach(), before[name].to(p.device), rtol=0.0, atol=atol)]


def has_grad(model):
    """True when at least one parameter of `model` holds a gradient (its .grad is not None) (lessons 03, 04)."""
    _check_module(model, "has_grad")
    return any(p.grad is not None for p in model.parameters())


def grad_norm(model):
    """Length of the whole gradient of `model`: sqrt(sum of p.grad**2 over all parameters).

    Parameters without a gradient count as zero; 0.0 when no parameter has one.
    """
    _check_module(model, "grad_norm")
    total = sum(float(p.grad.detach().pow(2).sum()) for p in model.parameters() if p.grad is not None)
    return math.sqrt(total)


def count_flops(fn):
    """Run fn() and count the floating-point operations of its matrix products, by network (lesson 03).

    Returns {"total": n, "<class name>": n, ...}: the total, and for each outermost module that
    fn() called (e.g. "MLPGenerator", "MLPDiscriminator") the part done inside it, forward and
    backward passes together (a backward pass is credited to the module whose forward it
    differentiates; run that forward inside fn too). Modules of the same class share one entry.
    The count follows from the tensors' shapes alone (PyTorch's FlopCounterMode: 2 m n k for an
    [m, k] @ [k, n] product), so unlike a stopwatch it is the same on every machine and every run.
    Elementwise work (activations, the loss) is not counted: here it is small next to the products.
    """
    from torch.utils.flop_counter import FlopCounterMode  # imported here: it loads a lot of PyTorch

    with FlopCounterMode(display=False) as counter:
        fn()
    by_module = counter.get_flop_counts()
    counts = {"total": int(sum(by_module.get("Global", {}).values()))}
    for name, per_op in by_module.items():
        if name != "Global" and "." not in name:  # outermost modules only: "MLPGenerator", not its layers
            counts[name] = int(sum(per_op.values()))
    return counts


@torch.no_grad()
def d_probs(D, x):
    """D(x) = sigmoid(D's logit) for a batch, as a CPU tensor [B] without gradient (lessons 03, 04)."""
    _check_module(D, "d_probs")
    return torch.sigmoid(D(x)).cpu()


def generator_grad_norm(G, D, z, saturating=False):
    """How hard G's loss pushes G: the length of d(generator loss)/d(G's parameters) (lesson 04).

    Computes `losses.generator_loss(D(G(z)), saturating)` and its gradient with
    torch.autograd.grad, so neither network's .grad is touched and nothing is updated.
    saturating=True is the loss E log(1 - D(G(z))), False the non-saturating -E log D(G(z)).
    """
    _check_module(G, "generator_grad_norm")
    _check_module(D, "generator_grad_norm")
    params = [p for p in G.parameters() if p.requires_grad]
    if not params:
        raise ValueError("G has no trainable parameters (all have requires_grad=False); "
                         "did a `frozen(G)` block or requires_grad_(False) leave it switched off?")
    with frozen(D):  # the gradient flows through D, but D's own weights are not asked for
        loss = losses.generator_loss(D(G(z)), saturating=saturating)
        grads = torch.autograd.grad(loss, params)
    return math.sqrt(sum(float(g.pow(2).sum()) for g in grads))


def generator_loss_curves(p):
    """Both generator losses and their slopes as functions of p = D(G(z)) (used by `plots.plot_generator_loss_curves`).

    p: a tensor of probabilities in (0, 1). Returns a dict of tensors shaped like p:
      saturating = log(1 - p)           d_saturating_dlogit = -p
      non_saturating = -log(p)          d_non_saturating_dlogit = -(1 - p)
    The slopes are with respect to D's logit l (p = sigmoid(l)), the number through which every
    gradient reaches G: dp/dl = p (1 - p) multiplies the slope with respect to p.
    """
    p = torch.as_tensor(p, dtype=torch.float64)
    if ((p <= 0) | (p >= 1)).any():
        raise ValueError("generator_loss_curves needs probabilities strictly between 0 and 1 "
                         "(log(0) is -inf); e.g. torch.linspace(0.001, 0.999, 200).")
    return {"p": p,
            "saturating": torch.log1p(-p),
            "non_saturating": -torch.log(p),
            "d_saturating_dlogit": -p,
            "d_non_saturating_dlogit": -(1 - p)}


@contextlib.contextmanager
def watch_step(model, optimizer=None):
    """Watch a training step from the outside: did autograd reach `model`'s weights, and what did
    `optimizer.step()` find when it ran? (The exercise checks use it to name a learner's mistake.)

    Yields a dict that fills in while the block runs:
      "grad_computed": True once autograd computed a gradient for a parameter of `model`, even if
        something cleared it from .grad afterwards;
      "events": in order, "grad" (the first gradient of each backward pass into `model`) and, for each
        optimizer.step() call, "step" when some parameter held a non-zero gradient then, or
        "empty step" when none did (that step had nothing to apply).
    """
    _check_module(model, "watch_step")
    seen = {"grad_computed": False, "events": []}

    def reached(grad):
        seen["grad_computed"] = True
        if not seen["events"] or seen["events"][-1] != "grad":
            seen["events"].append("grad")

    def before_step(opt, args, kwargs):
        has = any(p.grad is not None and bool(p.grad.ne(0).any()) for g in opt.param_groups for p in g["params"])
        seen["events"].append("step" if has else "empty step")

    handles = [p.register_hook(reached) for p in model.parameters() if p.requires_grad]
    if optimizer is not None:
        handles.append(optimizer.register_step_pre_hook(before_step))
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


def depends_on_seed(run, seeds=(0, 1)):
    """True when run() gives different results under two random seeds: it draws random numbers of
    its own (new noise, say, instead of the z it was given).

    run: a function of no arguments returning a list of tensors (e.g. a model's parameters after
    one step on fresh copies). The global random state is the same afterwards as before.
    """
    results = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            results.append([t.detach().clone() for t in run()])
    first, second = results[0], results[1]
    return len(first) != len(second) or not all(
        a.shape == b.shape and torch.equal(a, b) for a, b in zip(first, second))
