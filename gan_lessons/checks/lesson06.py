"""Checks for lesson 06's exercises: the Wasserstein losses, the gradient penalty, weight clipping."""
import torch

from .. import losses
from ..models import MLPCritic
from ._common import ExerciseError, as_float, passed, run_exercise

__all__ = ["check_wasserstein_losses", "check_gradient_penalty", "check_clip_weights"]


def check_wasserstein_losses(critic_loss_fn, generator_loss_fn):
    """Exercise 6.1: critic_loss_fn(real_scores, fake_scores) = E f(G(z)) - E f(x) and
    generator_loss_fn(fake_scores) = -E f(G(z)), both to minimize (lesson 06).

    Compared with losses.critic_loss and losses.wasserstein_generator_loss on random scores.
    """
    g = torch.Generator().manual_seed(6)
    cases = [
        ("random scores", torch.randn(32, generator=g) * 3, torch.randn(32, generator=g) * 3),
        ("batches of different sizes", torch.randn(5, generator=g), torch.randn(9, generator=g) - 4),
        ("large unbounded scores", torch.tensor([250.0, -40.0, 7.0]), torch.tensor([-300.0, 12.0, 0.5])),
    ]
    for case, real, fake in cases:
        want = float(losses.critic_loss(real, fake))
        got = as_float(run_exercise(critic_loss_fn, real.clone(), fake.clone(), exercise="Exercise 6.1a"),
                        "critic_loss")
        tol = 1e-4 * max(1.0, abs(want))
        if abs(got - want) > tol:
            if abs(got + want) <= tol:
                hint = ("Wrong sign: the critic *maximizes* E f(x) - E f(G(z)), so the loss it minimizes is "
                        "E f(G(z)) - E f(x) (mean of the fake scores minus mean of the real scores).")
            elif any(abs(got - v) <= tol for v in (float(torch.sigmoid(fake).mean() - torch.sigmoid(real).mean()),
                                                   float(losses.discriminator_loss(real, fake)))):
                hint = "A critic's scores are used as they are: no sigmoid, no log, no BCE."
            elif abs(got - float(fake.sum() - real.sum())) <= 1e-4 * max(1.0, abs(got)):
                hint = ("Average over each batch (.mean()), do not sum: a sum grows with the batch size, and the "
                        "real and fake batches need not be the same size.")
            else:
                hint = "critic_loss = fake_scores.mean() - real_scores.mean()."
            raise ExerciseError(f"critic_loss on {case}: expected {want:.6f}, got {got:.6f}. {hint}")
        want = float(losses.wasserstein_generator_loss(fake))
        got = as_float(run_exercise(generator_loss_fn, fake.clone(), exercise="Exercise 6.1b"), "generator_loss")
        if abs(got - want) > 1e-4 * max(1.0, abs(want)):
            hint = ("Wrong sign: G wants the critic to score its fakes *high*, so it minimizes -E f(G(z))."
                    if abs(got + want) <= 1e-4 * max(1.0, abs(want)) else
                    "generator_loss = -fake_scores.mean(); the real scores do not depend on G.")
            raise ExerciseError(f"generator_loss on {case}: expected {want:.6f}, got {got:.6f}. {hint}")
    return passed("Exercise 6.1 (Wasserstein losses)", "critic and generator losses match the package, signs included")


def _reference_penalty(critic, real, fake, eps):
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def check_gradient_penalty(fn):
    """Exercise 6.2: fn(critic, real, fake, eps) = mean over the batch of (||grad f(x_hat)|| - 1)^2 with
    x_hat = eps * real + (1 - eps) * fake (lesson 06).

    eps ([B, 1], one per example) is given, so the answer is exact. Checked on a small critic for
    2-D points and for [B, 1, 4, 4] "images": the value, and the gradient it gives the critic's
    weights (which needs create_graph=True, or the penalty would not train the critic at all).
    """
    g = torch.Generator().manual_seed(62)
    for shape in ((16, 2), (8, 1, 4, 4)):
        torch.manual_seed(61)
        critic = MLPCritic(in_shape=shape[1:], hidden=16, layers=2)
        with torch.no_grad():  # a critic far from 1-Lipschitz, so the penalty is clearly non-zero
            for p in critic.parameters():
                p.mul_(3.0)
        real = torch.randn(*shape, generator=g) + 1.0
        fake = torch.randn(*shape, generator=g) - 1.0
        eps = torch.rand((shape[0],) + (1,) * (len(shape) - 1), generator=g)  # [B, 1, ...]
        want = _reference_penalty(critic, real, fake, eps)
        # (the last bias never reaches the slope: its gradient is None, read as zero)
        want_grads = torch.autograd.grad(want, list(critic.parameters()), allow_unused=True)
        want = want.detach()
        critic.zero_grad(set_to_none=True)
        try:
            got = run_exercise(fn, critic, real.clone(), fake.clone(), eps.clone(), exercise="Exercise 6.2")
        except RuntimeError as e:
            if "does not require grad" not in str(e):
                raise
            raise ExerciseError(f"torch.autograd.grad failed: {e}. The slope is a gradient with respect to x_hat, so "
                                "autograd must track x_hat: build it, then mark it with x_hat.requires_grad_(True) "
                                "before scoring it with the critic.") from None
        value = as_float(got, "gradient_penalty")
        where = f"for inputs of shape {list(shape)}"
        if abs(value - float(want)) > 1e-4 * max(1.0, float(want)):
            hint = "penalty = mean over the batch of (||grad_x f(x_hat)||_2 - 1) ** 2."
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (gr,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
            slopes = gr.flatten(1).norm(dim=1)
            if abs(value - float((slopes ** 2 - 1).pow(2).mean())) < 1e-4 * max(1.0, value) or \
                    abs(value - float(((gr.flatten(1) ** 2).sum(1) - 1).pow(2).mean())) < 1e-4 * max(1.0, value):
                hint = "Use the norm ||grad|| (square root of the sum of squares), not the squared norm."
            elif abs(value - float((slopes - 1).pow(2).sum())) < 1e-4 * max(1.0, value):
                hint = "Average over the batch (.mean()), do not sum."
            elif abs(value - float(_reference_penalty(critic, real, fake, 1 - eps).detach())) < 1e-4 * max(1.0, value):
                hint = ("eps goes with the real batch: x_hat = eps * real + (1 - eps) * fake. Yours mixes them the "
                        "other way round.")
            elif abs(value - float((gr.flatten().norm() - 1) ** 2)) < 1e-4 * max(1.0, value):
                hint = ("Take one norm per example: grad.flatten(1).norm(dim=1) gives [B] slopes; the norm of the "
                        "whole batch's gradient is one big number.")
            elif len(shape) > 2:
                hint += " For images, flatten each example's gradient first: grad.flatten(1).norm(dim=1)."
            raise ExerciseError(f"{where}: expected penalty {float(want):.6f}, got {value:.6f}. {hint}")
        if not got.requires_grad:
            raise ExerciseError(f"{where}: the penalty has the right value but no gradient for the critic's weights, "
                                "so it would not change the critic. Call torch.autograd.grad(..., create_graph=True) "
                                "so the slope itself can be differentiated, and do not .detach() the result.")
        got_grads = torch.autograd.grad(got, list(critic.parameters()), allow_unused=True)
        for (name, p), a, b in zip(critic.named_parameters(), got_grads, want_grads):
            a = torch.zeros_like(p) if a is None else a
            b = torch.zeros_like(p) if b is None else b
            if not torch.allclose(a, b, rtol=1e-4, atol=1e-6):
                raise ExerciseError(f"{where}: the penalty's gradient for the critic's {name} differs from the "
                                    "reference. Build x_hat from real and fake, mark it requires_grad_(True), "
                                    "and use create_graph=True in torch.autograd.grad.")
        if any(p.grad is not None for p in critic.parameters()):
            raise ExerciseError(f"{where}: your function called .backward(), which writes into the critic's .grad. "
                                "Use torch.autograd.grad(scores.sum(), x_hat, create_graph=True) instead and "
                                "return the penalty; the training step adds it to the loss and backpropagates once.")
    return passed("Exercise 6.2 (gradient penalty)", "value and critic gradient match autograd")


def check_clip_weights(fn):
    """Exercise 6.3: fn(critic, c) clamps every parameter of the critic into [-c, c], in place (lesson 06)."""
    for c in (0.01, 0.3):
        torch.manual_seed(63)
        critic = MLPCritic(in_shape=2, hidden=8, layers=1)
        with torch.no_grad():
            for p in critic.parameters():
                p.mul_(4.0)
        params = list(critic.parameters())
        before = [p.detach().clone() for p in params]
        try:
            run_exercise(fn, critic, c, exercise="Exercise 6.3")
        except RuntimeError as e:
            if "leaf Variable that requires grad" not in str(e):
                raise
            raise ExerciseError("PyTorch refused to change a parameter in place because autograd tracks it. Clipping "
                                "is a change of the weights, not a step of the computation: do it inside "
                                "`with torch.no_grad():`, then p.clamp_(-c, c).") from e
        after = list(critic.parameters())
        untouched = all(torch.equal(p.detach(), p0) for p, p0 in zip(after, before))
        if any(a is not b for a, b in zip(after, params)):
            raise ExerciseError("Your function replaced the critic's parameters with new tensors, so the optimizer "
                                "(which holds the old ones) would not see the change. Clamp in place: p.clamp_(-c, c) "
                                "inside `with torch.no_grad():`.")
        for (name, p), p0 in zip(critic.named_parameters(), before):
            want = p0.clamp(-c, c)
            if not torch.allclose(p.detach(), want):
                if untouched:
                    hint = "It did not change at all: did you clamp a copy (p.clamp) instead of in place (p.clamp_)?"
                elif (p.detach() >= 0).all() and (want < 0).any():
                    hint = "Negative values disappeared: the lower bound is -c, not 0 (p.clamp_(-c, c))."
                elif (p.detach().abs() <= c + 1e-7).all():
                    hint = "Values already inside [-c, c] must stay exactly as they were; clamp, do not rescale."
                else:
                    hint = "Every parameter (weights and biases) must end up inside [-c, c]."
                raise ExerciseError(f"With c = {c}: the critic's {name} is not clamped to [-{c}, {c}] correctly. "
                                    f"{hint}")
            if p.requires_grad is False:
                raise ExerciseError(f"After clipping, {name} has requires_grad=False; keep the parameters trainable "
                                    "(use torch.no_grad() around the clamp instead of detaching).")
    return passed("Exercise 6.3 (weight clipping)", "every parameter clamped to [-c, c], in place")
