"""The steps the lessons teach, against PyTorch's own losses and autograd; the loop runs exactly them.

Each step changes only the network it trains; `train` equals the written-out Algorithm 1 number for
number on the CPU with a fixed seed; it records, resumes, and stops cleanly.
"""
import copy
import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gan_lessons import checkpoints, data, models, seed_everything, toy, train
from gan_lessons.errors import TrainingDiverged


def _params(m):
    return [p.detach().clone() for p in m.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.fixture
def gan():
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=16), models.MLPDiscriminator(2, hidden=16)
    opt_G, opt_D = train.make_optimizers(G, D)
    return G, D, opt_G, opt_D


# -- the steps --------------------------------------------------------------------------------------

def test_d_step_is_bce_with_real_1_and_fake_0_and_changes_only_D(gan):
    G, D, _, _ = gan
    real, z = torch.randn(32, 2) + 2, torch.randn(32, 2)
    with torch.no_grad():  # the reference, from PyTorch's BCE on probabilities
        p_real, p_fake = torch.sigmoid(D(real)), torch.sigmoid(D(G(z)))
        want = F.binary_cross_entropy(p_real, torch.ones(32)) + F.binary_cross_entropy(p_fake, torch.zeros(32))
    D_ref = copy.deepcopy(D)
    g0 = _params(G)
    opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
    loss, real_logits, fake_logits = train.d_step(G, D, opt_D, real, z)
    assert torch.allclose(loss, want, atol=1e-6)
    assert torch.allclose(torch.sigmoid(real_logits), p_real) and torch.allclose(torch.sigmoid(fake_logits), p_fake)
    assert _same(_params(G), g0) and all(p.grad is None for p in G.parameters()), "a D step must not touch G"
    # D moved by exactly one SGD step on that loss (gradient from autograd on the reference)
    ref_loss = (F.binary_cross_entropy(torch.sigmoid(D_ref(real)), torch.ones(32))
                + F.binary_cross_entropy(torch.sigmoid(D_ref(G(z).detach())), torch.zeros(32)))
    grads = torch.autograd.grad(ref_loss, list(D_ref.parameters()))
    for p, p0, g in zip(D.parameters(), D_ref.parameters(), grads):
        assert torch.allclose(p, p0 - 0.1 * g, atol=1e-6)


@pytest.mark.parametrize("saturating", [False, True])
def test_g_step_follows_the_gradient_through_a_frozen_D(gan, saturating):
    G, D, _, _ = gan
    z = torch.randn(32, 2)
    G_ref, d0 = copy.deepcopy(G), _params(D)
    opt_G = torch.optim.SGD(G.parameters(), lr=0.1)
    loss = train.g_step(G, D, opt_G, z, saturating=saturating)
    p_fake = torch.sigmoid(D(G_ref(z)))
    want = torch.log1p(-p_fake).mean() if saturating else -torch.log(p_fake).mean()
    assert torch.allclose(loss, want.detach(), atol=1e-6)
    grads = torch.autograd.grad(want, list(G_ref.parameters()))
    for p, p0, g in zip(G.parameters(), G_ref.parameters(), grads):
        assert torch.allclose(p, p0 - 0.1 * g, atol=1e-6)
    assert _same(_params(D), d0) and all(p.grad is None for p in D.parameters())
    assert all(p.requires_grad for p in D.parameters()), "D must be unfrozen after the G step"


def test_critic_step_with_penalty_matches_autograd(gan):
    _, D, _, _ = gan
    real, fake = torch.randn(16, 2) + 2, torch.randn(16, 2)
    D_ref = copy.deepcopy(D)
    torch.manual_seed(5)
    loss, real_scores, fake_scores = train.critic_step(D, torch.optim.SGD(D.parameters(), lr=0.0), real, fake,
                                                       "gp", gp_weight=10.0)
    torch.manual_seed(5)  # the same random points between real and fake
    eps = torch.rand(16, 1)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    slopes = torch.stack([torch.autograd.grad(D_ref(x_hat[i:i + 1]).sum(), x_hat)[0][i].norm() for i in range(16)])
    want = D_ref(fake).mean() - D_ref(real).mean() + 10.0 * ((slopes - 1) ** 2).mean()
    assert torch.allclose(loss, want.detach(), atol=1e-5)
    assert torch.allclose(real_scores, D_ref(real).detach()) and torch.allclose(fake_scores, D_ref(fake).detach())


def test_critic_step_with_clipping_bounds_every_weight(gan):
    _, D, _, _ = gan
    opt = torch.optim.RMSprop(D.parameters(), lr=0.1)
    train.critic_step(D, opt, torch.randn(16, 2), torch.randn(16, 2), "clip", clip=0.01)
    assert all(p.abs().max() <= 0.01 for p in D.parameters())


@pytest.mark.parametrize("loss", train.LOSSES)
def test_gan_step_updates_D_k_times_then_G_once(loss):
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    opt_G, opt_D = train.make_optimizers(G, D, loss)
    order = []
    opt_D.register_step_post_hook(lambda *a: order.append("D"))
    opt_G.register_step_post_hook(lambda *a: order.append("G"))
    out = train.gan_step(G, D, opt_G, opt_D, lambda b: torch.randn(b, 2), 16, k=3, loss=loss)
    assert order == ["D", "D", "D", "G"] and len(out) == 4 and all(torch.isfinite(t).all() for t in out)


# -- the loop runs exactly those steps --------------------------------------------------------------

def _written_out(G, D, opt_G, opt_D, sample_real, steps, b, k, loss, n_fixed, seed):
    """Algorithm 1 written out with the lessons' steps, drawing random numbers in the loop's order."""
    torch.manual_seed(seed)
    torch.randn(n_fixed, G.latent_dim)  # train() draws the fixed noise for its snapshots first
    for _ in range(steps):
        for _ in range(k):
            real, z = sample_real(b), train.sample_z(b, G.latent_dim)
            if loss == "bce":
                train.d_step(G, D, opt_D, real, z)
            else:
                train.critic_step(D, opt_D, real, G(z).detach(), "gp" if loss == "wgan-gp" else "clip")
        train.g_step(G, D, opt_G, train.sample_z(b, G.latent_dim), loss=loss)


@pytest.mark.parametrize("loss, k", [("bce", 1), ("bce", 2), ("wgan-gp", 3), ("wgan-clip", 2)])
def test_train_is_algorithm_1_written_out_number_for_number(loss, k):
    ring, steps, b = toy.Ring2D(), 12, 32
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=16), models.MLPDiscriminator(2, hidden=16)
    G2, D2 = copy.deepcopy(G), copy.deepcopy(D)
    train.train(G, D, ring, steps, batch_size=b, k=k, loss=loss, record_every=5, progress=False, seed=3)
    opt_G, opt_D = train.make_optimizers(G2, D2, loss)
    _written_out(G2, D2, opt_G, opt_D, ring.sample, steps, b, k, loss, 1000, seed=3)
    for p, q in zip(_params(G) + _params(D), _params(G2) + _params(D2)):
        assert torch.equal(p, q)


def test_train_on_images_is_algorithm_1_written_out():
    g = torch.Generator().manual_seed(1)
    images = torch.rand(200, 1, 28, 28, generator=g) * 2 - 1  # [200, 1, 28, 28] in [-1, 1]
    seed_everything(0)
    G, D = models.MLPGenerator(8, (1, 28, 28), hidden=16), models.MLPDiscriminator((1, 28, 28), hidden=16)
    G2, D2 = copy.deepcopy(G), copy.deepcopy(D)
    train.train(G, D, images, 6, batch_size=16, record_every=3, n_fixed=10, progress=False, seed=4)
    opt_G, opt_D = train.make_optimizers(G2, D2)
    _written_out(G2, D2, opt_G, opt_D, lambda b: data.sample_batch(images, b), 6, 16, 1, "bce", 10, seed=4)
    assert _same(_params(G) + _params(D), _params(G2) + _params(D2))


def test_train_runs_the_step_it_is_given_and_records_its_name():
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    seen = []

    def my_step(G, D, opt_G, opt_D, sample_real, batch_size, k, loss, saturating):
        seen.append((batch_size, k, loss, saturating))
        return train.gan_step(G, D, opt_G, opt_D, sample_real, batch_size, k, loss, saturating)

    h = train.train(G, D, toy.Ring2D(), 3, batch_size=8, k=2, progress=False, step=my_step)
    assert seen == [(8, 2, "bce", False)] * 3 and h.meta["config"]["step"] == "my_step"
    h = train.train(G, D, toy.Ring2D(), 2, progress=False, step=functools.partial(train.gan_step, r1_weight=0.1))
    assert h.meta["config"]["step"] == "gan_step(r1_weight=0.1)"


def test_train_records_history_with_expected_fields():
    seed_everything(0)
    G, D = models.MLPGenerator(1, 1, hidden=16), models.MLPDiscriminator(1, hidden=16)
    h = train.train(G, D, toy.Gaussian1D(), 30, record_every=10, progress=False)
    assert h.kind == "1d" and h.steps == [0, 10, 20, 30]
    last = h[-1]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "samples", "p_g", "d_grid", "d_star", "x_of_z"):
        assert key in last
    assert 0 <= last["d_real"] <= 1 and 0 <= last["d_fake"] <= 1
    p = h.meta["p_data"]
    total = p + last["p_g"]
    assert torch.allclose(last["d_star"][total > 0], p[total > 0] / total[total > 0])
    assert (last["d_star"][total == 0] == 0.5).all(), "D* is undefined where both densities vanish: 1/2"


def test_recorded_losses_are_the_average_over_the_interval():
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    d_losses = []

    def logging_step(*args):
        out = train.gan_step(*args)
        d_losses.append(float(out[0]))
        return out

    h = train.train(G, D, toy.Ring2D(), 8, record_every=4, progress=False, step=logging_step)
    assert h[1]["d_loss"] == pytest.approx(np.mean(d_losses[:4]), rel=1e-6)
    assert h[2]["d_loss"] == pytest.approx(np.mean(d_losses[4:]), rel=1e-6)


def test_train_2d_records_modes_and_field():
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=16), models.MLPDiscriminator(2, hidden=16)
    h = train.train(G, D, toy.Ring2D(), 5, record_every=5, progress=False)
    assert h[-1]["field"].shape == (17, 17, 2) and h[-1]["d_grid"].shape == (64, 64)
    assert 0 <= h[-1]["modes_covered"] <= 8


def test_the_field_is_minus_the_gradient_of_G_loss():
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=16), models.MLPDiscriminator(2, hidden=16)
    h = train.train(G, D, toy.Ring2D(), 2, record_every=2, progress=False)
    pts = h.meta["field_xy"].reshape(-1, 2).clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.softplus(-D(pts)).sum(), pts)  # -log D(x) per point
    assert torch.allclose(h[-1]["field"].reshape(-1, 2), -grad, atol=1e-6)


def test_numpy_integers_are_accepted_as_sizes():
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    h = train.train(G, D, toy.Ring2D(), np.int64(4), k=np.int32(1), batch_size=np.int64(8), progress=False)
    assert h.last_step == 4 and type(h.meta["config"]["steps"]) is int


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=-1), "steps must be a whole number"),
    (dict(steps=2.5), "steps must be a whole number"),
    (dict(k=0), "k .discriminator steps per generator step. must be an integer >= 1"),
    (dict(batch_size=0), "batch_size must be a positive integer"),
    (dict(loss="wgan"), "Unknown loss 'wgan'"),
    (dict(step="gan_step"), "step must be a function"),
])
def test_bad_arguments_are_refused_before_training(kwargs, match):
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    before = _params(G)
    args = dict(steps=3, progress=False) | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        train.train(G, D, toy.Ring2D(), args.pop("steps"), **args)
    assert _same(_params(G), before)


def test_cpu_runs_repeat_number_for_number():
    def run():
        seed_everything(123)
        G, D = models.MLPGenerator(2, 2, hidden=16), models.MLPDiscriminator(2, hidden=16)
        return train.train(G, D, toy.Ring2D(), 20, record_every=10, progress=False)

    a, b = run(), run()
    assert a.series("d_loss")[1:] == b.series("d_loss")[1:]
    assert torch.equal(a[-1]["samples"], b[-1]["samples"])


def test_interrupt_keeps_history():
    seed_everything(0)
    G = models.MLPGenerator(2, 2, hidden=8)

    class Interrupting(models.MLPDiscriminator):
        calls = 0

        def forward(self, x):
            Interrupting.calls += 1
            if Interrupting.calls == 61:  # the learner presses "interrupt kernel" mid-run
                raise KeyboardInterrupt
            return super().forward(x)

    D = Interrupting(2, hidden=8)
    h = train.train(G, D, toy.Ring2D(), 1000, record_every=5, progress=False)
    assert h.interrupted and 0 < h.last_step < 1000 and len(h) >= 3


def test_nan_stops_training_with_the_step_and_keeps_history():
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    points = torch.randn(100, 2)
    h = train.train(G, D, points, 3, record_every=1, progress=False)

    def nan_step(*args):  # NaN data is refused before training now, so the loss turns NaN here
        d_loss, *rest = train.gan_step(*args)
        return (d_loss * float("nan"), *rest)

    with pytest.raises(TrainingDiverged, match=r"NaN or infinite at step 4") as err:
        train.train(G, D, points, 10, record_every=5, history=h, opt_G=torch.optim.Adam(G.parameters()),
                    opt_D=torch.optim.Adam(D.parameters()), progress=False, step=nan_step)
    assert err.value.step == 4 and err.value.history.last_step == 3


def test_resume_continues_steps_and_history(tmp_path):
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    opt_G, opt_D = train.make_optimizers(G, D)
    h = train.train(G, D, toy.Ring2D(), 20, record_every=10, opt_G=opt_G, opt_D=opt_D, progress=False)
    checkpoints.save_checkpoint(tmp_path / "run.pt", G, D, opt_G, opt_D, h, config={"note": "test"})

    G2, D2 = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    opt_G2, opt_D2 = train.make_optimizers(G2, D2)
    state = checkpoints.load_checkpoint(tmp_path / "run.pt", G2, D2, opt_G2, opt_D2)
    assert state["step"] == 20 and state["config"] == {"note": "test"}
    assert all(torch.equal(a, b) for a, b in zip(G.state_dict().values(), G2.state_dict().values()))
    h2 = train.train(G2, D2, toy.Ring2D(), 10, record_every=10, history=state["history"],
                     opt_G=opt_G2, opt_D=opt_D2, progress=False)
    assert h2.steps == [0, 10, 20, 30]
    assert opt_G2.state[next(iter(G2.parameters()))]["step"].item() == 30  # Adam's count carried on
    with pytest.raises(ValueError, match="pass the optimizers too"):
        train.train(G2, D2, toy.Ring2D(), 5, history=h2, progress=False)


@pytest.mark.parametrize("call, match", [
    (lambda G, D, o: train.critic_step(D, o, torch.randn(4, 2), torch.randn(4, 2), "spectral"), "constraint must be"),
    (lambda G, D, o: train.g_step(G, D, o, torch.randn(4, 2), loss="hinge"), "Unknown loss 'hinge'"),
    (lambda G, D, o: train.gan_step(G, D, o, o, lambda b: torch.randn(b, 2), 4, k=0), "k .* must be an integer >= 1"),
])
def test_steps_refuse_settings_they_would_otherwise_ignore(gan, call, match):
    G, D, opt_G, _ = gan
    with pytest.raises(ValueError, match=match):
        call(G, D, opt_G)
