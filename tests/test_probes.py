"""The probes of lessons 03-04 report what really happened to the networks: every expected value is
computed here with plain PyTorch (a hand-written step, autograd, the loss formulas)."""
import math

import pytest
import torch
import torch.nn.functional as F

from gan_lessons import models, probes


@pytest.fixture
def nets():
    torch.manual_seed(0)
    G = models.MLPGenerator(latent_dim=2, out_shape=1, hidden=8, layers=1)
    D = models.MLPDiscriminator(in_shape=1, hidden=8, layers=1)
    return G, D


def _plain_d_step(G, D, opt_D, real, z):
    """One discriminator step written out in plain PyTorch: BCE on real (label 1) and detached fakes (0)."""
    real_logits, fake_logits = D(real), D(G(z).detach())
    loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
    opt_D.zero_grad()
    loss.backward()
    opt_D.step()


def _plain_g_step(G, D, opt_G, z):
    """One non-saturating generator step in plain PyTorch, D's weights switched off while it runs."""
    for p in D.parameters():
        p.requires_grad_(False)
    loss = F.softplus(-D(G(z))).mean()  # -log D(G(z))
    opt_G.zero_grad()
    loss.backward()
    opt_G.step()
    for p in D.parameters():
        p.requires_grad_(True)


def _grad_length(grads):
    return math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))


def test_copy_and_changed_params_after_a_d_step(nets):
    G, D = nets
    g0, d0 = probes.copy_params(G), probes.copy_params(D)
    opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
    _plain_d_step(G, D, opt_D, torch.randn(16, 1) + 3, torch.randn(16, 2))
    assert probes.changed_params(G, g0) == []
    assert set(probes.changed_params(D, d0)) == {n for n, _ in D.named_parameters()}
    assert not probes.has_grad(G) and probes.has_grad(D)


def test_g_step_then_probes_see_only_g_changed(nets):
    G, D = nets
    g0, d0 = probes.copy_params(G), probes.copy_params(D)
    opt_G = torch.optim.SGD(G.parameters(), lr=0.1)
    _plain_g_step(G, D, opt_G, torch.randn(16, 2))
    assert probes.changed_params(D, d0) == [] and not probes.has_grad(D)
    assert probes.changed_params(G, g0)
    assert probes.grad_norm(G) == pytest.approx(_grad_length(p.grad for p in G.parameters()))


def test_copy_is_a_copy_not_a_reference(nets):
    G, _ = nets
    before = probes.copy_params(G)
    with torch.no_grad():
        next(G.parameters()).add_(1.0)
    assert probes.changed_params(G, before) == ["net.0.weight"]


def test_changed_params_tolerance_and_another_models_copy(nets):
    _, D = nets
    before = probes.copy_params(D)
    with torch.no_grad():
        next(D.parameters()).add_(1e-6)
    assert probes.changed_params(D, before) == ["net.0.weight"]
    assert probes.changed_params(D, before, atol=1e-5) == []
    deeper = models.MLPDiscriminator(in_shape=1, hidden=8, layers=2)
    with pytest.raises(ValueError, match="different model"):
        probes.changed_params(D, probes.copy_params(deeper))


def test_grad_norm_matches_hand_computation(nets):
    G, D = nets
    assert probes.grad_norm(D) == 0.0
    D(torch.randn(5, 1)).sum().backward()
    want = math.sqrt(sum(float((p.grad ** 2).sum()) for p in D.parameters()))
    assert probes.grad_norm(D) == pytest.approx(want)


@pytest.mark.parametrize("saturating", [False, True])
def test_generator_grad_norm_matches_autograd_and_touches_nothing(nets, saturating):
    G, D = nets
    z = torch.randn(32, 2)
    n = probes.generator_grad_norm(G, D, z, saturating=saturating)
    assert not probes.has_grad(G) and not probes.has_grad(D)
    assert all(p.requires_grad for p in D.parameters())
    logits = D(G(z))
    # saturating: E log(1 - sigmoid(l)); non-saturating: -E log sigmoid(l)
    loss = torch.log1p(-torch.sigmoid(logits)).mean() if saturating else -F.logsigmoid(logits).mean()
    want = _grad_length(torch.autograd.grad(loss, list(G.parameters())))
    assert n == pytest.approx(want, rel=1e-5)


def test_saturating_gradient_vanishes_when_d_rejects_fakes(nets):
    G, D = nets
    with torch.no_grad():  # make D say "fake" with logit about -12 for everything
        D.net[-1].weight.zero_()
        D.net[-1].bias.fill_(-12.0)
        D.net[-1].weight[0, 0] = 1e-3
    z = torch.randn(64, 2)
    sat = probes.generator_grad_norm(G, D, z, saturating=True)
    nonsat = probes.generator_grad_norm(G, D, z, saturating=False)
    assert sat < 1e-4 * nonsat


def test_generator_loss_curves_match_the_formulas_and_autograd():
    logits = torch.linspace(-6, 6, 25, dtype=torch.float64, requires_grad=True)
    p = torch.sigmoid(logits)
    c = probes.generator_loss_curves(p.detach())
    formulas = {"saturating": lambda logit: torch.log1p(-torch.sigmoid(logit)),  # log(1 - p)
                "non_saturating": lambda logit: -torch.log(torch.sigmoid(logit))}  # -log p
    for key, f in formulas.items():
        value = f(logits)
        assert torch.allclose(c[key], value.detach())
        (grad,) = torch.autograd.grad(value.sum(), logits)  # slope with respect to the logit
        assert torch.allclose(c["d_" + key + "_dlogit"], grad)


def test_generator_loss_curves_rejects_0_and_1():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        probes.generator_loss_curves(torch.tensor([0.0, 0.5]))


def test_d_probs_are_sigmoid_of_the_logits_without_grad(nets):
    _, D = nets
    x = torch.randn(7, 1)
    p = probes.d_probs(D, x)
    assert p.shape == (7,) and not p.requires_grad
    assert torch.allclose(p, 1 / (1 + torch.exp(-D(x).detach())))


def test_probes_reject_non_modules():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        probes.grad_norm("D")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        probes.copy_params([1, 2])


def _linear_flops(model, batch):
    """2 * B * in * out for every Linear layer: the multiply-adds of one forward pass, by hand."""
    return sum(2 * batch * m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))


def test_count_flops_forward_matches_hand_count(nets):
    G, D = nets
    z = torch.randn(16, 2)
    counts = probes.count_flops(lambda: D(G(z)))
    assert counts["MLPGenerator"] == _linear_flops(G, 16)
    assert counts["MLPDiscriminator"] == _linear_flops(D, 16)
    assert counts["total"] == counts["MLPGenerator"] + counts["MLPDiscriminator"]


def test_count_flops_sees_the_backward_pass_that_detach_saves(nets):
    G, D = nets
    z = torch.randn(16, 2)
    with_detach = probes.count_flops(lambda: D(G(z).detach()).sum().backward())
    without = probes.count_flops(lambda: D(G(z)).sum().backward())
    assert with_detach["MLPGenerator"] == _linear_flops(G, 16)  # G ran forward only
    assert without["MLPGenerator"] > with_detach["MLPGenerator"]  # ... and backward too without detach
    # D's backward is the same, plus the gradient with respect to its input (the fakes) without detach
    first = D.net[0]
    input_grad = 2 * 16 * first.in_features * first.out_features
    assert without["MLPDiscriminator"] - with_detach["MLPDiscriminator"] == input_grad
    assert without["total"] == without["MLPGenerator"] + without["MLPDiscriminator"]
    assert probes.has_grad(G)  # fn really ran


def test_count_flops_of_no_matrix_products_is_zero():
    assert probes.count_flops(lambda: torch.ones(3) + 1) == {"total": 0}


def _steps_in_order(D, opt_D, order):
    """Run a discriminator step's three calls in the given order, e.g. ("zero_grad", "backward", "step")."""
    loss = D(torch.randn(8, 1)).sum()
    calls = {"zero_grad": opt_D.zero_grad, "backward": loss.backward, "step": opt_D.step}
    for name in order:
        calls[name]()


@pytest.mark.parametrize("order,events", [
    (("zero_grad", "backward", "step"), ["grad", "step"]),
    (("backward", "zero_grad", "step"), ["grad", "empty step"]),  # cleared before the step could use them
    (("zero_grad", "step", "backward"), ["empty step", "grad"]),  # stepped before there was a gradient
    (("zero_grad", "step"), ["empty step"]),  # no backward at all
    (("zero_grad", "backward"), ["grad"]),  # no step
])
def test_watch_step_sees_the_order_of_backward_and_step(nets, order, events):
    _, D = nets
    opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
    with probes.watch_step(D, opt_D) as seen:
        _steps_in_order(D, opt_D, order)
    assert seen["events"] == events
    assert seen["grad_computed"] == ("backward" in order)
    _steps_in_order(D, opt_D, ("zero_grad", "backward", "step"))  # the hooks are gone after the block
    assert seen["events"] == events


def test_watch_step_sees_a_gradient_cleared_afterwards(nets):
    G, D = nets
    with probes.watch_step(G) as seen:
        D(G(torch.randn(4, 2))).sum().backward()
        G.zero_grad(set_to_none=True)
    assert seen["grad_computed"] and not probes.has_grad(G)
    with probes.watch_step(G) as seen:
        D(G(torch.randn(4, 2)).detach()).sum().backward()
    assert not seen["grad_computed"]


def test_depends_on_seed_tells_own_noise_from_given_noise(nets):
    G, _ = nets
    z = torch.randn(4, 2)
    state = torch.random.get_rng_state()
    assert not probes.depends_on_seed(lambda: [G(z)])
    assert probes.depends_on_seed(lambda: [G(torch.randn_like(z))])
    assert torch.equal(torch.random.get_rng_state(), state)  # the global random state is left alone
