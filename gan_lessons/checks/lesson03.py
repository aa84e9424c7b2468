"""Checks for lesson 03's exercises: the discriminator loss and one discriminator step."""
import copy

import torch

from .. import losses
from ..models import MLPDiscriminator, MLPGenerator
from ..probes import changed_params, copy_params
from ..train import d_step
from ._common import ExerciseError, as_float, check_update, passed, run_exercise, step_loss

__all__ = ["check_discriminator_loss", "check_d_step"]


def check_discriminator_loss(fn):
    """Exercise 3.1: fn(real_logits, fake_logits) must equal losses.discriminator_loss (lesson 03).

    Tried on random logits, including huge ones (+-120) where a naive log(sigmoid(l)) gives -inf.
    """
    g = torch.Generator().manual_seed(3)
    cases = [
        ("random logits", torch.randn(16, generator=g), torch.randn(16, generator=g)),
        ("a single example", torch.randn(1, generator=g), torch.randn(1, generator=g)),
        ("D confident and right (real +8, fake -8)", torch.full((8,), 8.0), torch.full((8,), -8.0)),
        ("D confident and wrong (real -8, fake +8)", torch.full((8,), -8.0), torch.full((8,), 8.0)),
        ("extreme logits (+-120)", torch.tensor([120.0, -120.0, 3.0]), torch.tensor([-120.0, 120.0, -3.0])),
    ]
    for name, real, fake in cases:
        want = float(losses.discriminator_loss(real, fake))
        got = as_float(run_exercise(fn, real.clone(), fake.clone(), exercise="Exercise 3.1"), "discriminator_loss")
        if got != got or abs(got - want) > 1e-4 * max(1.0, abs(want)):
            hint = "Remember: real examples have label 1, fakes label 0, and the loss is the SUM of the two averages."
            if abs(got + want) < 1e-4 * max(1.0, abs(want)):
                hint = "Your value has the wrong sign: D *minimizes* -[log D(x) + log(1 - D(G(z)))]."
            elif abs(got - want / 2) < 1e-4 * max(1.0, abs(want)):
                hint = "Your value is half the expected one: add the real and fake terms, do not average them."
            elif got != got or got in (float("inf"), float("-inf")) or "extreme" in name:
                hint = ("It breaks for large logits: log(sigmoid(l)) underflows to log(0) = -inf. Use "
                        "F.logsigmoid(l) for log D, and F.logsigmoid(-l) for log(1 - D), or "
                        "F.binary_cross_entropy_with_logits, which work on logits directly.")
            raise ExerciseError(f"On {name}: expected loss {want:.6f}, got {got:.6f}. {hint}")
    return passed("Exercise 3.1 (discriminator loss)", f"{len(cases)} cases match losses.discriminator_loss")


def _tiny_models(seed):
    torch.manual_seed(seed)
    G = MLPGenerator(latent_dim=4, out_shape=3, hidden=16, layers=1)
    D = MLPDiscriminator(in_shape=3, hidden=16, layers=1)
    return G, D


def check_d_step(fn):
    """Exercise 3.2: fn(G, D, opt_D, real, z) does one discriminator step (lesson 03).

    Checked against the package's `train.d_step` (itself tested against PyTorch's BCE) on copies of
    two small networks, for two
    steps in a row: the returned loss matches `losses.discriminator_loss` before the update,
    D's new weights match, G's weights are identical and G has no gradient.
    """
    G, D = _tiny_models(seed=30)
    g = torch.Generator().manual_seed(31)
    batches = [(torch.randn(32, 3, generator=g) + 2.0, torch.randn(32, 4, generator=g)) for _ in range(2)]

    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    opt_ref = torch.optim.SGD(D_ref.parameters(), lr=0.1)
    opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
    G_before = copy_params(G)

    for i, (real, z) in enumerate(batches, start=1):
        D_before = [p.detach().clone() for p in D.parameters()]
        want = float(d_step(G_ref, D_ref, opt_ref, real, z)[0])
        got = step_loss(run_exercise(fn, G, D, opt_D, real.clone(), z.clone(), exercise="Exercise 3.2"), "d_step")
        if any(p.grad is not None for p in G.parameters()):
            raise ExerciseError("G's parameters received gradients during the discriminator step. Did you detach "
                                "the fake batch? Use fake = G(z).detach() so D's loss does not flow back into G.")
        changed_G = changed_params(G, G_before)
        if changed_G:
            raise ExerciseError(f"G's weights changed during the discriminator step ({', '.join(changed_G)}). "
                                "Only opt_D.step() should be called: the discriminator step trains D alone.")
        if abs(got - want) > 1e-5 * max(1.0, abs(want)):
            raise ExerciseError(
                f"Step {i}: the returned loss is {got:.6f} but discriminator_loss(D(real), D(G(z))) before the "
                f"update is {want:.6f}. Return the loss you called .backward() on, computed from D(real) "
                "and D(fake) with gl.losses.discriminator_loss (real first, fake second).")
        check_update(D, D_ref, D_before, i, f"Step {i}", "D",
                     "Backpropagate the loss of D on the real batch (label 1) and on fake = G(z).detach() "
                     "(label 0), then call opt_D.step() once.")
    return passed("Exercise 3.2 (d_step)", "loss matches, only D changed, G has no gradient")

