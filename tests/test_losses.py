"""The losses agree with PyTorch's own functions and with autograd on random inputs."""
import math

import pytest
import torch
import torch.nn.functional as F

from gan_lessons import losses


@pytest.fixture
def g():
    return torch.Generator().manual_seed(0)


def test_bce_matches_pytorch_on_random_inputs(g):
    for n in (1, 7, 256):
        h = torch.rand(n, generator=g)
        y = (torch.rand(n, generator=g) > 0.5).float()
        assert torch.allclose(losses.bce(h, y), F.binary_cross_entropy(h, y), atol=1e-6)


def test_bce_soft_labels_and_extremes_match_pytorch():
    h = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5, 1e-30])
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 0.3, 1.0])
    assert torch.allclose(losses.bce(h, y), F.binary_cross_entropy(h, y), atol=1e-5)


def test_bce_of_unsure_prediction_is_log2():
    assert losses.bce(torch.full((4,), 0.5), torch.tensor([1.0, 0, 1, 0])).item() == pytest.approx(math.log(2))


def test_discriminator_loss_is_minus_value_function(g):
    real, fake = torch.randn(64, generator=g) * 3, torch.randn(64, generator=g) * 3
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    v = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()
    assert torch.allclose(losses.discriminator_loss(real, fake), -v, atol=1e-5)
    ref = F.binary_cross_entropy(d_real, torch.ones(64)) + F.binary_cross_entropy(d_fake, torch.zeros(64))
    assert torch.allclose(losses.discriminator_loss(real, fake), ref, atol=1e-5)


def test_discriminator_loss_at_equilibrium_is_2log2():
    zeros = torch.zeros(10)  # logit 0 <=> D = 1/2
    assert losses.discriminator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))


def test_discriminator_loss_of_confident_mistakes_is_their_logits():
    # -log sigmoid(-120) = softplus(120) = 120 + log(1 + e^-120) = 120 in float32: finite, no log(0)
    loss = losses.discriminator_loss(torch.tensor([-120.0]), torch.tensor([120.0]))
    assert loss.item() == pytest.approx(240.0)


def test_generator_losses_match_their_formulas(g):
    logits = torch.randn(128, generator=g) * 4
    d = torch.sigmoid(logits)
    assert torch.allclose(losses.generator_loss(logits, saturating=True), torch.log(1 - d).mean(), atol=1e-5)
    assert torch.allclose(losses.generator_loss(logits), -torch.log(d).mean(), atol=1e-5)
    assert torch.allclose(losses.generator_loss(logits),
                          F.binary_cross_entropy_with_logits(logits, torch.ones(128)), atol=1e-6)


def test_generator_losses_stay_finite_for_extreme_logits():
    logits = torch.tensor([-200.0, -50.0, 0.0, 50.0, 200.0], requires_grad=True)
    for saturating in (True, False):
        loss = losses.generator_loss(logits, saturating=saturating)
        (grad,) = torch.autograd.grad(loss, logits)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()


def test_saturating_gradient_vanishes_where_nonsaturating_does_not():
    # D is sure the fakes are fake: D(G(z)) = sigmoid(-8) ~ 3e-4
    logit = torch.tensor([-8.0], requires_grad=True)
    (g_sat,) = torch.autograd.grad(losses.generator_loss(logit, saturating=True), logit)
    (g_ns,) = torch.autograd.grad(losses.generator_loss(logit), logit)
    assert abs(g_sat.item()) < 1e-3 and abs(g_ns.item()) > 0.99


def test_wasserstein_losses_signs(g):
    real, fake = torch.randn(32, generator=g) + 2, torch.randn(32, generator=g)
    assert torch.allclose(losses.critic_loss(real, fake), fake.mean() - real.mean())
    assert torch.allclose(losses.wasserstein_generator_loss(fake), -fake.mean())
    assert losses.critic_loss(real, fake) < 0  # the critic scores real higher: its loss is negative


def test_gradient_penalty_matches_per_example_autograd():
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))

    def f(x):
        return critic(x).squeeze(-1)

    real, fake = torch.randn(8, 3), torch.randn(8, 3)
    gp = losses.gradient_penalty(f, real, fake, generator=torch.Generator().manual_seed(1))
    eps = torch.rand(8, 1, generator=torch.Generator().manual_seed(1))
    expected = []
    for i in range(8):  # one example at a time, through torch.autograd.functional.jacobian
        x_hat = eps[i] * real[i] + (1 - eps[i]) * fake[i]
        jac = torch.autograd.functional.jacobian(lambda x: f(x[None])[0], x_hat)
        expected.append((jac.norm() - 1) ** 2)
    assert torch.allclose(gp, torch.stack(expected).mean(), atol=1e-6)


def test_gradient_penalty_is_zero_for_a_unit_slope_linear_critic():
    w = torch.tensor([0.6, 0.8])  # ||w|| = 1
    gp = losses.gradient_penalty(lambda x: x @ w, torch.randn(16, 2), torch.randn(16, 2))
    assert gp.item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_trains_the_critic():
    critic = torch.nn.Linear(2, 1)
    gp = losses.gradient_penalty(lambda x: critic(x).squeeze(1), torch.randn(4, 2), torch.randn(4, 2))
    gp.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_r1_penalty_of_a_linear_discriminator_is_its_squared_weight_norm():
    w = torch.tensor([3.0, -4.0])  # D(x) = x . w + 1 has gradient w everywhere: ||w||^2 = 25
    real = torch.randn(6, 2).requires_grad_(True)
    assert losses.r1_penalty(real @ w + 1.0, real).item() == pytest.approx(25.0)


def test_r1_penalty_matches_per_example_autograd():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))

    def D(x):
        return net(x).squeeze(-1)

    real = torch.randn(8, 3)
    x = real.clone().requires_grad_(True)
    r1 = losses.r1_penalty(D(x), x)
    expected = [torch.autograd.functional.jacobian(lambda v: D(v[None])[0], real[i]).pow(2).sum() for i in range(8)]
    assert torch.allclose(r1, torch.stack(expected).mean(), atol=1e-6)
    (grad,) = torch.autograd.grad(r1, net[0].weight)  # create_graph=True: the penalty trains D
    assert grad.abs().sum() > 0


def test_r1_penalty_needs_real_that_requires_grad():
    real = torch.randn(4, 2)
    with pytest.raises(ValueError, match="requires_grad_\\(True\\)"):
        losses.r1_penalty(real.sum(1), real)


def test_clip_weights_clamps_every_parameter():
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(10)
    before = [p.detach().clone() for p in net.parameters()]
    losses.clip_weights(net, 0.01)
    for p, p0 in zip(net.parameters(), before):  # each value clamped to [-0.01, 0.01], one by one
        assert torch.equal(p.detach(), torch.where(p0 > 0.01, 0.01, torch.where(p0 < -0.01, -0.01, p0)))
