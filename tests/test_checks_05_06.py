"""The checks of lessons 05 and 06 pass right answers, fail wrong ones with a useful message, and
let an unsolved exercise (NotImplementedError) through."""
import pytest
import torch
import torch.nn.functional as F

from gan_lessons import checks, losses, models, toy, train
from gan_lessons.checks import ExerciseError


def todo(*args, **kwargs):
    raise NotImplementedError("Exercise")


# -- lesson 05: V(D, G) -------------------------------------------------------------------------
def value_right(real_logits, fake_logits):
    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()


def test_value_check_passes_right_answer(capsys):
    assert checks.check_value_function(value_right)
    assert "Exercise 5.1 (value function V): passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (lambda r, f: -value_right(r, f), "Wrong sign"),
    (lambda r, f: value_right(f, r), "swapped"),
    (lambda r, f: torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean(), "logsigmoid"),
    (lambda r, f: F.logsigmoid(r).mean() + F.logsigmoid(f).mean(), "expected V"),
])
def test_value_check_fails_wrong_answers(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        checks.check_value_function(wrong)


def test_value_check_lets_not_implemented_through():
    with pytest.raises(NotImplementedError, match="Exercise 5.1 is not solved yet"):
        checks.check_value_function(todo)


# -- lesson 05: D* --------------------------------------------------------------------------------
def d_star_right(p_data, p_g):
    return p_data / (p_data + p_g).clamp(min=1e-12)


@pytest.fixture(scope="module")
def history_1d():
    torch.manual_seed(0)
    G, D = models.MLPGenerator(1, 1, hidden=8), models.MLPDiscriminator(1, hidden=8)
    return train.train(G, D, toy.Gaussian1D(), 20, batch_size=32, progress=False, record_every=10)


def test_d_star_check_passes_right_answer_and_matches_snapshot(history_1d, capsys):
    assert checks.check_optimal_discriminator(d_star_right)
    assert checks.check_optimal_discriminator(d_star_right, history=history_1d)
    assert "matches the snapshot's d_star" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (lambda a, b: b / (a + b).clamp(min=1e-12), "probability of \\*fake\\*"),
    (lambda a, b: a / (a + b), "NaN"),
    (lambda a, b: (a / (a + b).clamp(min=1e-12)).mean(), "shape"),
    (lambda a, b: a / (b + 1e-12), "expected D\\*"),
])
def test_d_star_check_fails_wrong_answers(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        checks.check_optimal_discriminator(wrong)


def test_d_star_check_rejects_history_without_d_star():
    torch.manual_seed(0)
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    h = train.train(G, D, toy.Ring2D(), 2, batch_size=16, progress=False)
    with pytest.raises(ValueError, match="1-D history of a BCE run"):
        checks.check_optimal_discriminator(d_star_right, history=h)


def test_d_star_check_lets_not_implemented_through():
    with pytest.raises(NotImplementedError, match="Exercise 5.2 is not solved yet"):
        checks.check_optimal_discriminator(todo)


# -- lesson 05: the k-step loop -------------------------------------------------------------------
def loop_right(G, D, opt_G, opt_D, sample_real, steps, k, batch_size):
    for _ in range(steps):
        for _ in range(k):
            z = train.sample_z(batch_size, G.latent_dim)
            train.train_discriminator_step(G, D, opt_D, sample_real(batch_size), z)
        train.train_generator_step(G, D, opt_G, train.sample_z(batch_size, G.latent_dim))


def loop_k_after(G, D, opt_G, opt_D, sample_real, steps, k, batch_size):  # G first, then k D steps
    for _ in range(steps):
        train.train_generator_step(G, D, opt_G, train.sample_z(batch_size, G.latent_dim))
        for _ in range(k):
            train.train_discriminator_step(G, D, opt_D, sample_real(batch_size), train.sample_z(batch_size, 2))


def loop_one_real_batch(G, D, opt_G, opt_D, sample_real, steps, k, batch_size):  # reuses one real batch
    for _ in range(steps):
        real = sample_real(batch_size)
        for _ in range(k):
            train.train_discriminator_step(G, D, opt_D, real, train.sample_z(batch_size, 2))
        train.train_generator_step(G, D, opt_G, train.sample_z(batch_size, 2))


def loop_ignores_k(G, D, opt_G, opt_D, sample_real, steps, k, batch_size):
    loop_right(G, D, opt_G, opt_D, sample_real, steps, 1, batch_size)


def test_loop_check_passes_right_answer(capsys):
    assert checks.check_alternating_loop(loop_right)
    assert "Exercise 5.3 (k-step alternating loop): passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (loop_k_after, "should go D G"),
    (loop_ignores_k, "k=3"),
    (loop_one_real_batch, "fresh real batch"),
])
def test_loop_check_fails_wrong_answers(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        checks.check_alternating_loop(wrong)


def test_loop_check_lets_not_implemented_through():
    with pytest.raises(NotImplementedError, match="Exercise 5.3 is not solved yet"):
        checks.check_alternating_loop(todo)


# -- lesson 06: Wasserstein losses ----------------------------------------------------------------
def test_wasserstein_check_passes_right_answer(capsys):
    assert checks.check_wasserstein_losses(lambda r, f: f.mean() - r.mean(), lambda f: -f.mean())
    assert checks.check_wasserstein_losses(losses.critic_loss, losses.wasserstein_generator_loss)
    assert "Exercise 6.1 (Wasserstein losses): passed" in capsys.readouterr().out


@pytest.mark.parametrize("critic_fn,gen_fn,message", [
    (lambda r, f: r.mean() - f.mean(), lambda f: -f.mean(), "critic \\*maximizes\\*"),  # the seeds' sign
    (lambda r, f: f.mean() - r.mean(), lambda f: f.mean(), "score its fakes \\*high\\*"),
    (lambda r, f: torch.sigmoid(f).mean() - torch.sigmoid(r).mean(), lambda f: -f.mean(), "no sigmoid"),
    (lambda r, f: f - r, lambda f: -f.mean(), "one number"),
])
def test_wasserstein_check_fails_wrong_answers(critic_fn, gen_fn, message):
    with pytest.raises(ExerciseError, match=message):
        checks.check_wasserstein_losses(critic_fn, gen_fn)


def test_wasserstein_check_lets_not_implemented_through():
    with pytest.raises(NotImplementedError, match="Exercise 6.1a is not solved yet"):
        checks.check_wasserstein_losses(todo, todo)
    with pytest.raises(NotImplementedError, match="Exercise 6.1b is not solved yet"):
        checks.check_wasserstein_losses(losses.critic_loss, todo)


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


def test_gradient_penalty_check_passes_right_answer(capsys):
    assert checks.check_gradient_penalty(gp_right)
    assert "Exercise 6.2 (gradient penalty): passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (gp_no_create_graph, "create_graph=True"),
    (gp_squared_norm, "not the squared norm"),
    (gp_whole_batch_norm, "one norm per example"),
    (gp_backward, "called .backward"),
    (lambda c, r, f, e: gp_right(c, r, f, 1 - e), "expected penalty"),
])
def test_gradient_penalty_check_fails_wrong_answers(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        checks.check_gradient_penalty(wrong)


def test_gradient_penalty_check_lets_not_implemented_through():
    with pytest.raises(NotImplementedError, match="Exercise 6.2 is not solved yet"):
        checks.check_gradient_penalty(todo)


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


def test_clip_check_passes_right_answer(capsys):
    assert checks.check_clip_weights(clip_right)
    assert checks.check_clip_weights(losses.clip_weights)
    assert "Exercise 6.3 (weight clipping): passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (clip_copy, "in place"),
    (clip_rescale, "clamp, do not rescale"),
    (clip_weights_only, "weights and biases"),
    (clip_new_tensors, "replaced the critic's parameters"),
])
def test_clip_check_fails_wrong_answers(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        checks.check_clip_weights(wrong)


def test_clip_check_lets_not_implemented_through():
    with pytest.raises(NotImplementedError, match="Exercise 6.3 is not solved yet"):
        checks.check_clip_weights(todo)
