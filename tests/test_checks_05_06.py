"""The checks of lessons 05 and 06 pass right answers, fail wrong ones with a useful message, and
let an unsolved exercise (NotImplementedError) through.

Where a check compares with the package (`losses.discriminator_loss`, `losses.critic_loss`, ...),
the right answers here are written out with PyTorch's own functions, not with the package."""
import pytest
import torch
import torch.nn.functional as F

from gan_lessons import checks, losses, models, toy, train
from gan_lessons.checks import ExerciseError


def todo(*args, **kwargs):
    raise NotImplementedError("Exercise")


# -- lesson 05: V(D, G) -------------------------------------------------------------------------
def value_right(real_logits, fake_logits):  # mean log D(x) + mean log(1 - D(G(z))), from the logits
    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()


def value_pytorch_bce(real_logits, fake_logits):  # V = -[BCE(real, 1) + BCE(fake, 0)]
    bce = F.binary_cross_entropy_with_logits
    return -(bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits)))


@pytest.mark.parametrize("right", [value_right, value_pytorch_bce], ids=["logsigmoid", "PyTorch's BCE"])
def test_value_check_passes_right_answers(right, capsys):
    checks.check_value_function(right)
    assert "Exercise 5.1 (value function V): passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (lambda r, f: -value_right(r, f), "Wrong sign"),
    (lambda r, f: value_right(f, r), "swapped"),
    (lambda r, f: torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean(), "logsigmoid"),
    # log D(G(z)) in place of log(1 - D(G(z))): the generator's non-saturating loss, named as such
    (lambda r, f: F.logsigmoid(r).mean() + F.logsigmoid(f).mean(),
     r"expected V.*log D\(G\(z\)\).*non-saturating loss of lesson 04"),
    # one mean over both batches together, or the two terms averaged: half of V with equal batch sizes
    (lambda r, f: torch.cat([F.logsigmoid(r), F.logsigmoid(-f)]).mean(), r"half the value.*average the two terms"),
    (lambda r, f: 0.5 * (F.logsigmoid(r).mean() + F.logsigmoid(-f).mean()), r"half the value.*average the two terms"),
    (lambda r, f: F.logsigmoid(r).sum() + F.logsigmoid(-f).sum(), r"summed over each batch.*\.mean\(\)"),
    # a formula the check cannot name: it restates V
    (lambda r, f: F.logsigmoid(r).mean() - F.logsigmoid(f).mean(), r"expected V.*mean log\(1 - D\(G\(z\)\)\)"),
])
def test_value_check_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_value_function(wrong)
    assert "passed" not in capsys.readouterr().out


def test_value_check_lets_not_implemented_through(capsys):
    with pytest.raises(NotImplementedError, match="Exercise 5.1 is not solved yet"):
        checks.check_value_function(todo)
    assert "passed" not in capsys.readouterr().out


# -- lesson 05: D* --------------------------------------------------------------------------------
def d_star_right(p_data, p_g):
    return p_data / (p_data + p_g).clamp(min=1e-12)


@pytest.fixture(scope="module")
def history_1d():
    torch.manual_seed(0)
    G, D = models.MLPGenerator(1, 1, hidden=8), models.MLPDiscriminator(1, hidden=8)
    return train.train(G, D, toy.Gaussian1D(), 20, batch_size=32, progress=False, record_every=10)


def test_d_star_check_passes_right_answer(capsys):
    checks.check_optimal_discriminator(d_star_right)
    assert "Exercise 5.2 (optimal discriminator D*): passed" in capsys.readouterr().out


def test_d_star_check_matches_the_snapshot_of_a_run(history_1d, capsys):
    # the run's recorded d_star (computed by the package) against the formula written out above
    checks.check_optimal_discriminator(d_star_right, history=history_1d)
    assert "Exercise 5.2 (optimal discriminator D*): passed (matches the snapshot's d_star)" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (lambda a, b: b / (a + b).clamp(min=1e-12), "probability of \\*fake\\*"),
    (lambda a, b: a / (a + b), "NaN"),
    (lambda a, b: (a / (a + b).clamp(min=1e-12)).mean(), "shape"),
    (lambda a, b: a / (b + 1e-12), r"expected D\* = 0\.\d+, got 1\.\d+\. D\*\(x\) = p_data\(x\) / \(p_data\(x\) \+"),
])
def test_d_star_check_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_optimal_discriminator(wrong)
    assert "passed" not in capsys.readouterr().out


def test_d_star_check_rejects_history_without_d_star(capsys):
    torch.manual_seed(0)
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    h = train.train(G, D, toy.Ring2D(), 2, batch_size=16, progress=False)
    with pytest.raises(ValueError, match="1-D history of a BCE run"):
        checks.check_optimal_discriminator(d_star_right, history=h)
    assert "passed" not in capsys.readouterr().out


def test_d_star_check_lets_not_implemented_through(capsys):
    with pytest.raises(NotImplementedError, match="Exercise 5.2 is not solved yet"):
        checks.check_optimal_discriminator(todo)
    assert "passed" not in capsys.readouterr().out


# -- lesson 05: one iteration of Algorithm 1 ---------------------------------------------------------
def _d(G, D, opt_D, real, batch_size):
    train.d_step(G, D, opt_D, real, train.sample_z(batch_size, G.latent_dim))


def _g(G, D, opt_G, batch_size):
    train.g_step(G, D, opt_G, train.sample_z(batch_size, G.latent_dim))


def step_right(G, D, opt_G, opt_D, sample_real, batch_size, k):
    for _ in range(k):
        _d(G, D, opt_D, sample_real(batch_size), batch_size)
    _g(G, D, opt_G, batch_size)


def step_k_after(G, D, opt_G, opt_D, sample_real, batch_size, k):  # G first, then k D steps
    _g(G, D, opt_G, batch_size)
    for _ in range(k):
        _d(G, D, opt_D, sample_real(batch_size), batch_size)


def step_one_real_batch(G, D, opt_G, opt_D, sample_real, batch_size, k):  # reuses one real batch
    real = sample_real(batch_size)
    for _ in range(k):
        _d(G, D, opt_D, real, batch_size)
    _g(G, D, opt_G, batch_size)


def step_ignores_k(G, D, opt_G, opt_D, sample_real, batch_size, k):
    step_right(G, D, opt_G, opt_D, sample_real, batch_size, 1)


def step_fixed_batch_size(G, D, opt_G, opt_D, sample_real, batch_size, k):
    for _ in range(k):
        _d(G, D, opt_D, sample_real(64), batch_size)
    _g(G, D, opt_G, batch_size)


def step_one_z_for_all_d_steps(G, D, opt_G, opt_D, sample_real, batch_size, k):  # z drawn before the loop
    z = train.sample_z(batch_size, G.latent_dim)
    for _ in range(k):
        train.d_step(G, D, opt_D, sample_real(batch_size), z)
    _g(G, D, opt_G, batch_size)


def step_g_reuses_last_z(G, D, opt_G, opt_D, sample_real, batch_size, k):  # G's step on the last D step's z
    for _ in range(k):
        z = train.sample_z(batch_size, G.latent_dim)
        train.d_step(G, D, opt_D, sample_real(batch_size), z)
    train.g_step(G, D, opt_G, z)


def step_real_and_fake_in_one_batch(G, D, opt_G, opt_D, sample_real, batch_size, k):  # a right answer, D called once
    for _ in range(k):
        real, fake = sample_real(batch_size), G(train.sample_z(batch_size, G.latent_dim)).detach()
        logits = D(torch.cat([real, fake]))
        loss = losses.discriminator_loss(logits[:batch_size], logits[batch_size:])
        opt_D.zero_grad()
        loss.backward()
        opt_D.step()
    _g(G, D, opt_G, batch_size)


@pytest.mark.parametrize("right", [step_right, train.gan_step, step_real_and_fake_in_one_batch],
                         ids=["written out", "the package's gan_step", "real and fake in one batch"])
def test_gan_step_check_passes_right_answers(right, capsys):
    checks.check_gan_step(right)
    assert "Exercise 5.3 (gan_step): passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (step_k_after, "should go D G"),
    (step_ignores_k, "k=3"),
    (step_one_real_batch, "fresh real batch"),
    (step_fixed_batch_size, "pass batch_size"),
    (step_one_z_for_all_d_steps, "k=3 your discriminator steps all saw the same fakes.*Draw fresh z inside the loop"),
    (step_g_reuses_last_z, "reused that step's noise z"),
])
def test_gan_step_check_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_gan_step(wrong)
    assert "passed" not in capsys.readouterr().out


def test_gan_step_check_lets_not_implemented_through():
    with pytest.raises(NotImplementedError, match="Exercise 5.3 is not solved yet"):
        checks.check_gan_step(todo)


# -- lesson 06: Wasserstein losses ----------------------------------------------------------------
def critic_loss_right(real_scores, fake_scores):  # the critic maximizes E f(x) - E f(G(z)): minimize minus it
    return -(real_scores.mean() - fake_scores.mean())


def generator_loss_right(fake_scores):  # G wants high scores: minimize -E f(G(z))
    return -fake_scores.mean()


def critic_loss_by_sums(real_scores, fake_scores):  # the same means, as sums over counts
    return fake_scores.sum() / fake_scores.numel() - real_scores.sum() / real_scores.numel()


@pytest.mark.parametrize("critic_fn", [critic_loss_right, critic_loss_by_sums], ids=["means", "sums / counts"])
def test_wasserstein_check_passes_right_answers(critic_fn, capsys):
    checks.check_wasserstein_losses(critic_fn, generator_loss_right)
    assert "Exercise 6.1 (Wasserstein losses): passed" in capsys.readouterr().out


@pytest.mark.parametrize("critic_fn,gen_fn,message", [
    (lambda r, f: r.mean() - f.mean(), lambda f: -f.mean(), "critic \\*maximizes\\*"),  # the seeds' sign
    (lambda r, f: f.mean() - r.mean(), lambda f: f.mean(), "score its fakes \\*high\\*"),
    (lambda r, f: torch.sigmoid(f).mean() - torch.sigmoid(r).mean(), lambda f: -f.mean(), "no sigmoid"),
    (lambda r, f: f - r, lambda f: -f.mean(), "one number"),
    (lambda r, f: f.sum() - r.sum(), lambda f: -f.mean(), "do not sum"),
    (lambda r, f: F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
     + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)), lambda f: -f.mean(), "no sigmoid, no log, no BCE"),
])
def test_wasserstein_check_fails_wrong_answers(critic_fn, gen_fn, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_wasserstein_losses(critic_fn, gen_fn)
    assert "passed" not in capsys.readouterr().out


def test_wasserstein_check_lets_not_implemented_through(capsys):
    with pytest.raises(NotImplementedError, match="Exercise 6.1a is not solved yet"):
        checks.check_wasserstein_losses(todo, todo)
    with pytest.raises(NotImplementedError, match="Exercise 6.1b is not solved yet"):
        checks.check_wasserstein_losses(critic_loss_right, todo)
    assert "passed" not in capsys.readouterr().out


# -- lesson 06: gradient penalty ------------------------------------------------------------------
def gp_right(critic, real, fake, eps):
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def gp_no_create_graph(critic, real, fake, eps):
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def gp_squared_norm(critic, real, fake, eps):
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (((grad.flatten(1) ** 2).sum(1) - 1) ** 2).mean()


def gp_whole_batch_norm(critic, real, fake, eps):
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten().norm() - 1) ** 2


def gp_backward(critic, real, fake, eps):
    penalty = gp_right(critic, real, fake, eps)
    penalty.backward(retain_graph=True)
    return penalty


def gp_untracked_x_hat(critic, real, fake, eps):  # no requires_grad_: autograd cannot differentiate w.r.t. x_hat
    x_hat = eps * real + (1 - eps) * fake
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def test_gradient_penalty_check_passes_right_answer(capsys):
    checks.check_gradient_penalty(gp_right)
    assert "Exercise 6.2 (gradient penalty): passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (gp_no_create_graph, "create_graph=True"),
    (gp_squared_norm, "not the squared norm"),
    (gp_whole_batch_norm, "one norm per example"),
    (gp_backward, "called .backward"),
    (lambda c, r, f, e: gp_right(c, r, f, 1 - e), "eps goes with the real batch"),  # x_hat mixed the other way round
    (gp_untracked_x_hat, "requires_grad_\\(True\\)"),
])
def test_gradient_penalty_check_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_gradient_penalty(wrong)
    assert "passed" not in capsys.readouterr().out


def test_gradient_penalty_check_lets_not_implemented_through(capsys):
    with pytest.raises(NotImplementedError, match="Exercise 6.2 is not solved yet"):
        checks.check_gradient_penalty(todo)
    assert "passed" not in capsys.readouterr().out


# -- lesson 06: weight clipping -------------------------------------------------------------------
def clip_right(critic, c):
    with torch.no_grad():
        for p in critic.parameters():
            p.clamp_(-c, c)


def clip_copy(critic, c):  # clamps copies: nothing changes
    for p in critic.parameters():
        p.detach().clamp(-c, c)


def clip_rescale(critic, c):  # squeezes everything, changes small weights too
    with torch.no_grad():
        for p in critic.parameters():
            p.mul_(c / p.abs().max())


def clip_weights_only(critic, c):
    with torch.no_grad():
        for name, p in critic.named_parameters():
            if name.endswith("weight"):
                p.clamp_(-c, c)


def clip_new_tensors(critic, c):
    for m in critic.modules():
        if isinstance(m, torch.nn.Linear):
            m.weight = torch.nn.Parameter(m.weight.detach().clamp(-c, c))
            m.bias = torch.nn.Parameter(m.bias.detach().clamp(-c, c))


# gl.losses.clip_weights is a right answer too: the check compares with p.clamp(-c, c), not with it.
@pytest.mark.parametrize("right", [clip_right, losses.clip_weights], ids=["written out", "gl.losses.clip_weights"])
def test_clip_check_passes_right_answers(right, capsys):
    checks.check_clip_weights(right)
    assert "Exercise 6.3 (weight clipping): passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (clip_copy, "in place"),
    (clip_rescale, "clamp, do not rescale"),
    (clip_weights_only, "weights and biases"),
    (clip_new_tensors, "replaced the critic's parameters"),
])
def test_clip_check_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_clip_weights(wrong)
    assert "passed" not in capsys.readouterr().out


def test_clip_check_lets_not_implemented_through(capsys):
    with pytest.raises(NotImplementedError, match="Exercise 6.3 is not solved yet"):
        checks.check_clip_weights(todo)
    assert "passed" not in capsys.readouterr().out


def d_star_half_where_undefined(p_data, p_g):  # 1/2 where there is neither data nor fakes
    total = p_data + p_g
    return torch.where(total > 0, p_data / total, torch.full_like(total, 0.5))


def d_star_smoothed(p_data, p_g):
    return (p_data + 1e-8) / (p_data + p_g + 2e-8)


@pytest.mark.parametrize("right", [d_star_half_where_undefined, d_star_smoothed])
def test_d_star_check_accepts_any_guard_where_both_densities_vanish(right, history_1d, capsys):
    """Far in the tails both densities underflow (to denormal numbers or 0): D* is undefined there."""
    checks.check_optimal_discriminator(right, history=history_1d)
    assert "Exercise 5.2 (optimal discriminator D*): passed" in capsys.readouterr().out


def clip_without_no_grad(critic, c):  # autograd refuses an in-place change of a leaf that requires grad
    for p in critic.parameters():
        p.clamp_(-c, c)


def clip_lower_bound_zero(critic, c):
    with torch.no_grad():
        for p in critic.parameters():
            p.clamp_(0, c)


@pytest.mark.parametrize("wrong, message", [
    (clip_without_no_grad, r"inside `with torch.no_grad\(\):`"),
    (clip_lower_bound_zero, r"the lower bound is -c, not 0"),
])
def test_clip_check_names_the_no_grad_and_lower_bound_mistakes(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_clip_weights(wrong)
    assert "passed" not in capsys.readouterr().out
