"""The probes of lessons 03-04 report what really happened to the networks."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from gan_lessons import losses, models, probes  # noqa: E402
from gan_lessons.train import train_discriminator_step, train_generator_step  # noqa: E402


@pytest.fixture
def nets():
    torch.manual_seed(0)
    G = models.MLPGenerator(latent_dim=2, out_shape=1, hidden=8, layers=1)
    D = models.MLPDiscriminator(in_shape=1, hidden=8, layers=1)
    return G, D


def test_snapshot_and_changed_params_after_a_d_step(nets):
    G, D = nets
    g0, d0 = probes.snapshot_params(G), probes.snapshot_params(D)
    opt_D = torch.optim.SGD(D.parameters(), lr=0.1)
    train_discriminator_step(G, D, opt_D, torch.randn(16, 1) + 3, torch.randn(16, 2))
    assert probes.changed_params(G, g0) == []
    assert set(probes.changed_params(D, d0)) == {n for n, _ in D.named_parameters()}
    assert not probes.has_grad(G) and probes.has_grad(D)


def test_snapshot_is_a_copy_not_a_reference(nets):
    G, _ = nets
    snap = probes.snapshot_params(G)
    with torch.no_grad():
        next(G.parameters()).add_(1.0)
    assert probes.changed_params(G, snap) == ["net.0.weight"]


def test_changed_params_rejects_another_models_snapshot(nets):
    _, D = nets
    deeper = models.MLPDiscriminator(in_shape=1, hidden=8, layers=2)
    with pytest.raises(ValueError, match="different model"):
        probes.changed_params(D, probes.snapshot_params(deeper))


def test_grad_norm_matches_hand_computation(nets):
    G, D = nets
    assert probes.grad_norm(D) == 0.0
    D(torch.randn(5, 1)).sum().backward()
    want = math.sqrt(sum(float((p.grad ** 2).sum()) for p in D.parameters()))
    assert probes.grad_norm(D) == pytest.approx(want)


def test_generator_grad_norm_matches_a_real_step_and_touches_nothing(nets):
    G, D = nets
    z = torch.randn(32, 2)
    for saturating in (False, True):
        n = probes.generator_grad_norm(G, D, z, saturating=saturating)
        assert not probes.has_grad(G) and not probes.has_grad(D)
        assert all(p.requires_grad for p in D.parameters())
        loss = losses.generator_loss(D(G(z)), saturating=saturating)
        loss.backward()
        assert n == pytest.approx(probes.grad_norm(G), rel=1e-5)
        G.zero_grad(set_to_none=True)
        D.zero_grad(set_to_none=True)


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


def test_generator_loss_curves_match_autograd():
    logits = torch.linspace(-6, 6, 25, dtype=torch.float64, requires_grad=True)
    p = torch.sigmoid(logits)
    c = probes.generator_loss_curves(p.detach())
    for key, sat in (("saturating", True), ("non_saturating", False)):
        assert torch.allclose(c[key], -torch.nn.functional.softplus(logits.detach()) if sat
                              else torch.nn.functional.softplus(-logits.detach()))
        (grad,) = torch.autograd.grad(losses.generator_loss(logits, saturating=sat) * len(logits), logits)
        assert torch.allclose(c["d_" + key + "_dlogit"], grad)


def test_generator_loss_curves_rejects_0_and_1():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        probes.generator_loss_curves(torch.tensor([0.0, 0.5]))


def test_d_probs_are_probabilities_without_grad(nets):
    _, D = nets
    p = probes.d_probs(D, torch.randn(7, 1))
    assert p.shape == (7,) and not p.requires_grad and ((p > 0) & (p < 1)).all()


def test_plots_draw_and_reject_logits():
    ax = probes.plot_score_histograms(torch.rand(50), torch.rand(50), title="t")
    assert len(ax.patches) > 0
    with pytest.raises(ValueError, match="sigmoid"):
        probes.plot_score_histograms(torch.randn(50) * 5, torch.rand(50))
    axes = probes.plot_generator_loss_curves(marks={"D trained": 0.01})
    assert len(axes[0].lines) >= 2 and len(axes[1].lines) >= 2
    plt.close("all")


def test_plot_series_draws_one_line_per_run(nets):
    from gan_lessons.history import History

    h = History("1d")
    for s in range(3):
        h.append({"step": s, "d_fake": 0.1 * s})
    ax = probes.plot_series({"a": h, "b": h}, "d_fake", hline=0.5)
    assert len(ax.lines) == 3
    ax = probes.plot_series({"a": h}, lambda s: 2 * s["d_fake"])
    assert list(ax.lines[0].get_ydata()) == pytest.approx([0.0, 0.2, 0.4])
    with pytest.raises(ValueError, match="dict"):
        probes.plot_series([h])
    plt.close("all")


def test_probes_reject_non_modules():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        probes.grad_norm("D")


def test_g_step_then_probes_see_only_g_changed(nets):
    G, D = nets
    g0, d0 = probes.snapshot_params(G), probes.snapshot_params(D)
    opt_G = torch.optim.SGD(G.parameters(), lr=0.1)
    train_generator_step(G, D, opt_G, torch.randn(16, 2))
    assert probes.changed_params(D, d0) == [] and not probes.has_grad(D)
    assert probes.changed_params(G, g0) and probes.grad_norm(G) > 0


def test_plot_image_grid_shapes():
    ax = probes.plot_image_grid(torch.rand(16, 1, 28, 28) * 2 - 1, ncols=8)
    assert ax.images[0].get_array().shape == (56, 224)
    with pytest.raises(ValueError, match=r"\[n, 1, H, W\]"):
        probes.plot_image_grid(torch.rand(4, 3, 28, 28))
    plt.close("all")
