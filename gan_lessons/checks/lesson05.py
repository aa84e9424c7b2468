"""Checks for lesson 05's exercises: the value V(D, G), the optimal discriminator D*, the k-step loop."""
import math

import torch
import torch.nn.functional as F

from .. import losses
from ..models import MLPDiscriminator, MLPGenerator
from ._common import ExerciseError, as_float, passed, run_exercise

__all__ = ["check_value_function", "check_optimal_discriminator", "check_gan_step"]


def check_value_function(fn):
    """Exercise 5.1: fn(real_logits, fake_logits) = V = mean log D(x) + mean log(1 - D(G(z))) (lesson 05).

    Compared with -losses.discriminator_loss (V is minus D's loss) on random and extreme logits.
    """
    g = torch.Generator().manual_seed(5)
    cases = [
        ("random logits", torch.randn(32, generator=g) * 2, torch.randn(32, generator=g) * 2),
        ("batches of different sizes", torch.randn(7, generator=g), torch.randn(12, generator=g)),
        ("D cannot tell (all logits 0, D = 1/2)", torch.zeros(8), torch.zeros(8)),
        ("D confident and right (real +8, fake -8)", torch.full((8,), 8.0), torch.full((8,), -8.0)),
        ("extreme logits (+-120)", torch.tensor([120.0, -120.0, 3.0]), torch.tensor([-120.0, 120.0, -3.0])),
    ]
    for case, real, fake in cases:
        want = float(-losses.discriminator_loss(real, fake))
        got = as_float(run_exercise(fn, real.clone(), fake.clone(), exercise="Exercise 5.1"), "value")
        tol = 1e-4 * max(1.0, abs(want))
        if got == got and abs(got - want) <= tol:
            continue
        if got != got or abs(got) == float("inf"):
            hint = ("For large |logit| sigmoid rounds to exactly 0 or 1 and log gives -inf. Work from the logit: "
                    "log D = F.logsigmoid(l), log(1 - D) = F.logsigmoid(-l).")
        elif abs(got + want) <= tol:
            hint = ("Wrong sign: that is D's *loss* (what D minimizes). V itself is what D maximizes: "
                    "mean log D(x) + mean log(1 - D(G(z))), a number <= 0.")
        elif abs(got - float(-losses.discriminator_loss(fake, real))) <= tol:
            hint = "Real and fake are swapped: log D goes with the real logits, log(1 - D) with the fake ones."
        elif abs(got - float(F.logsigmoid(real).mean() + F.logsigmoid(fake).mean())) <= tol:
            hint = ("Your second term is log D(G(z)) = logsigmoid(l), the generator's non-saturating loss of "
                    "lesson 04. V has log(1 - D(G(z))) = F.logsigmoid(-l) there.")
        elif (abs(got - want / 2) <= tol
              or abs(got - float(torch.cat([F.logsigmoid(real), F.logsigmoid(-fake)]).mean())) <= tol):
            # With equal batch sizes, (term1 + term2) / 2 and one mean over both batches give the same number.
            hint = ("That is half the value: did you average the two terms (or average over both batches "
                    "together)? V is the sum of two averages, each over its own batch: "
                    "mean log D(x) + mean log(1 - D(G(z))).")
        elif abs(got - float(F.logsigmoid(real).sum() + F.logsigmoid(-fake).sum())) <= tol:
            hint = "You summed over each batch; V uses averages (expectations): .mean(), not .sum()."
        elif "zero" in case or "1/2" in case:
            hint = f"With D = 1/2 everywhere V must be 2 log(1/2) = -log 4 = {-math.log(4):.4f}."
        else:
            hint = "V = mean log D(x) + mean log(1 - D(G(z))), each term averaged over its own batch."
        raise ExerciseError(f"On {case}: expected V = {want:.6f}, got {got:.6f}. {hint}")
    return passed("Exercise 5.1 (value function V)", f"{len(cases)} cases match -losses.discriminator_loss")


def check_optimal_discriminator(fn, history=None):
    """Exercise 5.2: fn(p_data, p_g) = D*(x) = p_data / (p_data + p_g), elementwise (lesson 05).

    Tried on random densities, on points where one density is 0, and (if a 1-D BCE `history` is
    given) on its last snapshot, whose recorded ``d_star`` it must reproduce. Where both densities
    are (numerically) 0 any value in [0, 1] is accepted (D* is not defined there) but not NaN.
    """
    g = torch.Generator().manual_seed(52)
    cases = [
        ("random densities", torch.rand(50, generator=g) * 2, torch.rand(50, generator=g) * 2),
        ("p_g = 0 (no fakes there)", torch.tensor([0.3, 1.0, 2.0]), torch.zeros(3)),
        ("p_data = 0 (no real data there)", torch.zeros(3), torch.tensor([0.3, 1.0, 2.0])),
        ("p_data = p_g", torch.tensor([0.1, 0.5, 1.5]), torch.tensor([0.1, 0.5, 1.5])),
        ("both 0 (far from everything)", torch.tensor([0.0, 0.0]), torch.tensor([0.0, 0.0])),
    ]
    if history is not None:
        snap = history[-1]
        if "d_star" not in snap:
            raise ValueError("check_optimal_discriminator needs a 1-D history of a BCE run (it has a 'd_star' "
                             "field); pass history=None to check on random densities only.")
        cases.append((f"the last snapshot (step {snap['step']}) of your run", history.meta["p_data"], snap["p_g"]))
    for case, p_data, p_g in cases:
        got = run_exercise(fn, p_data.clone(), p_g.clone(), exercise="Exercise 5.2")
        if not torch.is_tensor(got) or got.shape != p_data.shape:
            shape = tuple(got.shape) if torch.is_tensor(got) else type(got).__name__
            raise ExerciseError(f"On {case}: expected a tensor of shape {tuple(p_data.shape)} (one D* value per "
                                f"point), got {shape}. D* is elementwise: no .mean() or .sum().")
        got = got.detach().float()
        # Where both densities are (numerically) 0, D* is undefined: clamping gives 0, a 1/2 guard 1/2,
        # and the exact ratio of two denormal numbers anything. Any value in [0, 1] is right there.
        both_zero = (p_data + p_g) < 1e-4
        if torch.isnan(got).any():
            raise ExerciseError(f"On {case}: your D* contains NaN. 0/0 happens where both densities are 0; guard "
                                "the denominator, e.g. (p_data + p_g).clamp(min=1e-12).")
        total = p_data + p_g
        want = torch.where(total > 0, p_data / total, torch.full_like(total, 0.5))
        if case.startswith("the last snapshot"):
            want = history[-1]["d_star"].float()
        ok = ((got - want).abs() <= 1e-3) | (both_zero & (got >= 0) & (got <= 1))
        if not ok.all():
            j = int((~ok).nonzero()[0])
            hint = "D*(x) = p_data(x) / (p_data(x) + p_g(x))."
            if abs(float(got[j]) - float(1 - want[j])) <= 1e-4:
                hint = ("You computed p_g / (p_data + p_g), the probability of *fake*. D outputs the probability "
                        "of real: p_data on top.")
            raise ExerciseError(f"On {case}, at index {j} (p_data = {float(p_data[j]):.4g}, p_g = "
                                f"{float(p_g[j]):.4g}): expected D* = {float(want[j]):.6f}, got "
                                f"{float(got[j]):.6f}. {hint}")
    detail = "matches the snapshot's d_star" if history is not None else f"{len(cases)} cases"
    return passed("Exercise 5.2 (optimal discriminator D*)", detail)


class _Spy:
    """Wraps an optimizer and writes 'D' or 'G' into a shared log each time it steps."""

    def __init__(self, opt, tag, log):
        self.opt, self.tag, self.log = opt, tag, log
        self.param_groups = opt.param_groups

    def step(self, *args, **kwargs):
        self.log.append(self.tag)
        return self.opt.step(*args, **kwargs)

    def zero_grad(self, *args, **kwargs):
        return self.opt.zero_grad(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.opt, name)


def _check_fresh_noise(seen, reals, k):
    """seen: the batches D was shown in one call of the learner's step; reals: every real batch drawn so far.

    The fakes are the batches that are not real ones. G is the same network until the generator step, so
    two equal batches of fakes within a call mean that the same z was fed to G twice.
    """
    fakes = [x for x in seen if not any(x.shape == r.shape and torch.equal(x, r) for r in reals)]
    if len(fakes) != k + 1:
        return  # D was called in another pattern (e.g. real and fake in one batch): nothing to compare
    d_fakes, g_fake = fakes[:k], fakes[k]
    if any(torch.equal(d_fakes[i], d_fakes[j]) for i in range(k) for j in range(i)):
        raise ExerciseError(f"With k={k} your discriminator steps all saw the same fakes: the noise z was drawn "
                            "once, before the loop. Draw fresh z inside the loop, for every D step, as you do for "
                            "the real batch.")
    if torch.equal(d_fakes[-1], g_fake):
        raise ExerciseError("The generator step scored exactly the fakes of the last discriminator step: it reused "
                            "that step's noise z. Draw fresh noise for the generator step: "
                            "z = gl.train.sample_z(batch_size, G.latent_dim).")


def check_gan_step(fn):
    """Exercise 5.3: fn(G, D, opt_G, opt_D, sample_real, batch_size, k) runs one iteration of Algorithm 1 (lesson 05).

    The check calls it a few times in a row, with the optimizers wrapped so it sees the order of the
    updates: each call must make exactly k discriminator steps, each on a fresh real batch
    (sample_real(batch_size) called once per D step), then one generator step. It also records the
    batches D is shown: within one call G does not change before its own step, so two equal batches
    of fakes mean the same noise z was used twice. Tried with k = 1 and k = 3.
    """
    for k, steps in ((1, 3), (3, 2)):
        torch.manual_seed(53)
        G = MLPGenerator(latent_dim=2, out_shape=2, hidden=8, layers=1)
        D = MLPDiscriminator(in_shape=2, hidden=8, layers=1)
        G0 = [p.detach().clone() for p in G.parameters()]
        D0 = [p.detach().clone() for p in D.parameters()]
        log, calls = [], []
        opt_G = _Spy(torch.optim.SGD(G.parameters(), lr=0.05), "G", log)
        opt_D = _Spy(torch.optim.SGD(D.parameters(), lr=0.05), "D", log)

        reals, seen = [], []  # every real batch drawn; for each call, the batches D was shown

        def sample_real(b):
            calls.append(b)
            reals.append(torch.randn(b, 2) + 2.0)  # [b, 2]
            return reals[-1].clone()

        hook = D.register_forward_hook(lambda module, inputs, output: seen[-1].append(inputs[0].detach().clone()))
        try:
            for _ in range(steps):
                seen.append([])
                run_exercise(fn, G, D, opt_G, opt_D, sample_real, 16, k, exercise="Exercise 5.3")
        finally:
            hook.remove()
        want = ("D" * k + "G") * steps
        got = "".join(log)
        if got != want:
            raise ExerciseError(
                f"Called {steps} times with k={k}, the updates should go {' '.join(want)} (each call: k "
                "discriminator steps, then one generator step), but yours went "
                f"{' '.join(got) or '(no updates at all)'}. "
                "Inside one call: `for _ in range(k):` one D step on a fresh batch; after the loop, one G step.")
        if len(calls) != k * steps:
            raise ExerciseError(f"sample_real was called {len(calls)} times in {steps} calls with k={k}; expected "
                                f"{k * steps}, once for each discriminator step, so that every D step sees a fresh "
                                "real batch (and none for the generator step, which needs only noise).")
        if any(b != 16 for b in calls):
            raise ExerciseError(f"sample_real was called with batch sizes {calls}; pass batch_size (16 here).")
        for shown in seen:
            _check_fresh_noise(shown, reals, k)
        if all(torch.equal(p.detach(), p0) for p, p0 in zip(G.parameters(), G0)):
            raise ExerciseError("G's weights never changed: the generator step must update G (did you detach the "
                                "fakes in the generator step? Detach only in the discriminator step).")
        if all(torch.equal(p.detach(), p0) for p, p0 in zip(D.parameters(), D0)):
            raise ExerciseError("D's weights never changed: the discriminator steps must update D.")
    return passed("Exercise 5.3 (gan_step)", "k D steps, then 1 G step; fresh real batches and fresh noise")
