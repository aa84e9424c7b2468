"""The checks of lessons 03 and 04 pass right answers, fail wrong ones with a useful message, and
let an unsolved exercise (NotImplementedError) through."""
import pytest
import torch
import torch.nn.functional as F

from gan_lessons import checks, losses
from gan_lessons.checks import ExerciseError
from gan_lessons.train import frozen


# -- lesson 03: discriminator loss ----------------------------------------------------------------
def d_loss_right(real_logits, fake_logits):
    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())


def d_loss_naive(real_logits, fake_logits):  # right formula, but log(0) for large logits
    return -(torch.log(torch.sigmoid(real_logits)).mean() + torch.log(1 - torch.sigmoid(fake_logits)).mean())


def test_discriminator_loss_check_passes_right_answer(capsys):
    assert checks.check_discriminator_loss(d_loss_right)
    assert "Exercise 3.1 (discriminator loss): passed" in capsys.readouterr().out


def test_discriminator_loss_check_passes_package_function():
    assert checks.check_discriminator_loss(losses.discriminator_loss)


@pytest.mark.parametrize("wrong,message", [
    (lambda r, f: -d_loss_right(r, f), "wrong sign"),
    (lambda r, f: d_loss_right(r, f) / 2, "half"),
    (d_loss_naive, "logsigmoid"),
    (lambda r, f: -(F.logsigmoid(f).mean() + F.logsigmoid(-r).mean()), "label 1"),  # labels swapped
])
def test_discriminator_loss_check_fails_wrong_answers(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        checks.check_discriminator_loss(wrong)


def test_discriminator_loss_check_wants_one_number():
    with pytest.raises(ExerciseError, match="mean"):
        checks.check_discriminator_loss(lambda r, f: -(F.logsigmoid(r) + F.logsigmoid(-f)))


def test_discriminator_loss_check_lets_not_implemented_through():
    def todo(real_logits, fake_logits):
        raise NotImplementedError("Exercise 3.1")

    with pytest.raises(NotImplementedError, match="Exercise 3.1 is not solved yet"):
        checks.check_discriminator_loss(todo)


# -- lesson 03: d_step ----------------------------------------------------------------------------
def d_step_right(G, D, opt_D, real, z):
    fake = G(z).detach()
    loss = losses.discriminator_loss(D(real), D(fake))
    opt_D.zero_grad()
    loss.backward()
    opt_D.step()
    return loss


def d_step_no_detach(G, D, opt_D, real, z):
    loss = losses.discriminator_loss(D(real), D(G(z)))
    opt_D.zero_grad()
    loss.backward()
    opt_D.step()
    return loss


def d_step_no_zero_grad(G, D, opt_D, real, z):
    loss = losses.discriminator_loss(D(real), D(G(z).detach()))
    loss.backward()
    opt_D.step()
    return loss


def d_step_no_step(G, D, opt_D, real, z):
    loss = losses.discriminator_loss(D(real), D(G(z).detach()))
    opt_D.zero_grad()
    loss.backward()
    return loss


def d_step_swapped(G, D, opt_D, real, z):
    loss = losses.discriminator_loss(D(G(z).detach()), D(real))
    opt_D.zero_grad()
    loss.backward()
    opt_D.step()
    return loss


def test_d_step_check_passes_right_answer(capsys):
    assert checks.check_d_step(d_step_right)
    assert "Exercise 3.2 (d_step): passed" in capsys.readouterr().out


def test_d_step_check_accepts_the_package_step():
    from gan_lessons.train import train_discriminator_step

    assert checks.check_d_step(train_discriminator_step)


@pytest.mark.parametrize("wrong,message", [
    (d_step_no_detach, "detach"),
    (d_step_no_zero_grad, "zero_grad"),
    (d_step_no_step, "opt_D.step"),
    (d_step_swapped, "real first"),
])
def test_d_step_check_fails_wrong_answers(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        checks.check_d_step(wrong)


def test_d_step_check_lets_not_implemented_through():
    def todo(G, D, opt_D, real, z):
        raise NotImplementedError

    with pytest.raises(NotImplementedError, match="Exercise 3.2"):
        checks.check_d_step(todo)


# -- lesson 04: generator losses ------------------------------------------------------------------
def sat_right(l):
    return F.logsigmoid(-l).mean()  # log(1 - sigmoid(l))


def nonsat_right(l):
    return -F.logsigmoid(l).mean()


def test_generator_loss_checks_pass_right_answers(capsys):
    assert checks.check_saturating_loss(sat_right)
    assert checks.check_non_saturating_loss(nonsat_right)
    out = capsys.readouterr().out
    assert "Exercise 4.1a (saturating loss): passed" in out
    assert "Exercise 4.1b (non-saturating loss): passed" in out


@pytest.mark.parametrize("check,wrong,message", [
    ("check_saturating_loss", nonsat_right, "other generator loss"),
    ("check_non_saturating_loss", sat_right, "other generator loss"),
    ("check_non_saturating_loss", lambda l: F.logsigmoid(l).mean(), "wrong sign"),
    ("check_saturating_loss", lambda l: torch.log(1 - torch.sigmoid(l)).mean(), "logsigmoid"),
    ("check_non_saturating_loss", lambda l: -torch.log(torch.sigmoid(l)).mean(), "logsigmoid"),
    ("check_saturating_loss", lambda l: F.logsigmoid(-l).sum(), "mean"),
])
def test_generator_loss_checks_fail_wrong_answers(check, wrong, message):
    with pytest.raises(ExerciseError, match=message):
        getattr(checks, check)(wrong)


def test_generator_loss_checks_let_not_implemented_through():
    def todo(l):
        raise NotImplementedError

    with pytest.raises(NotImplementedError, match="Exercise 4.1a"):
        checks.check_saturating_loss(todo)


# -- lesson 04: g_step ----------------------------------------------------------------------------
def g_step_right(G, D, opt_G, z, saturating=False):
    with frozen(D):
        loss = losses.generator_loss(D(G(z)), saturating=saturating)
        opt_G.zero_grad()
        loss.backward()
    opt_G.step()
    return loss


def g_step_not_frozen(G, D, opt_G, z, saturating=False):
    loss = losses.generator_loss(D(G(z)), saturating=saturating)
    opt_G.zero_grad()
    loss.backward()
    opt_G.step()
    return loss


def g_step_left_frozen(G, D, opt_G, z, saturating=False):
    D.requires_grad_(False)
    loss = losses.generator_loss(D(G(z)), saturating=saturating)
    opt_G.zero_grad()
    loss.backward()
    opt_G.step()
    return loss


def g_step_ignores_saturating(G, D, opt_G, z, saturating=False):
    return g_step_right(G, D, opt_G, z)


def g_step_detached(G, D, opt_G, z, saturating=False):
    with frozen(D):
        loss = losses.generator_loss(D(G(z).detach()), saturating=saturating)
        opt_G.zero_grad()
        loss.backward()
    opt_G.step()
    return loss


def g_step_no_zero_grad(G, D, opt_G, z, saturating=False):
    with frozen(D):
        loss = losses.generator_loss(D(G(z)), saturating=saturating)
        loss.backward()
    opt_G.step()
    return loss


def test_g_step_check_passes_right_answer_and_package_step(capsys):
    from gan_lessons.train import train_generator_step

    assert checks.check_g_step(g_step_right)
    assert checks.check_g_step(train_generator_step)
    assert "Exercise 4.2 (g_step): passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (g_step_not_frozen, "frozen"),
    (g_step_left_frozen, "requires_grad=False"),
    (g_step_ignores_saturating, "saturating"),
    (g_step_detached, "NOT be detached"),
    (g_step_no_zero_grad, "zero_grad"),
])
def test_g_step_check_fails_wrong_answers(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        checks.check_g_step(wrong)


def test_g_step_check_lets_not_implemented_through():
    def todo(G, D, opt_G, z, saturating=False):
        raise NotImplementedError

    with pytest.raises(NotImplementedError, match="Exercise 4.2"):
        checks.check_g_step(todo)
