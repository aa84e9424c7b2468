"""The checks of lessons 03 and 04 pass right answers, fail wrong ones with a useful message, and
let an unsolved exercise (NotImplementedError) through.

The checks compare with the package (`losses.*`, `train.d_step`, `train.g_step`), so the right
answers here are written out with PyTorch's own functions only: a right answer passing is then
also a test of the package's reference against an independent one."""
import pytest
import torch
import torch.nn.functional as F

from gan_lessons import checks, losses
from gan_lessons.checks import ExerciseError
from gan_lessons.train import frozen


# -- lesson 03: discriminator loss ----------------------------------------------------------------
def d_loss_right(real_logits, fake_logits):  # -[mean log D(x) + mean log(1 - D(G(z)))]
    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())


def d_loss_pytorch_bce(real_logits, fake_logits):  # BCE(real, 1) + BCE(fake, 0), with PyTorch's BCE
    bce = F.binary_cross_entropy_with_logits
    return bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))


def d_loss_naive(real_logits, fake_logits):  # right formula, but log(0) for large logits
    return -(torch.log(torch.sigmoid(real_logits)).mean() + torch.log(1 - torch.sigmoid(fake_logits)).mean())


@pytest.mark.parametrize("right", [d_loss_right, d_loss_pytorch_bce], ids=["logsigmoid", "PyTorch's BCE"])
def test_discriminator_loss_check_passes_right_answers(right, capsys):
    checks.check_discriminator_loss(right)
    assert "Exercise 3.1 (discriminator loss): passed" in capsys.readouterr().out


def d_loss_naive_real_term(real_logits, fake_logits):  # log(sigmoid(l)) for real: -inf at l = -120
    return -(torch.log(torch.sigmoid(real_logits)).mean() + F.logsigmoid(-fake_logits).mean())


def d_loss_naive_fake_term(real_logits, fake_logits):  # log(1 - sigmoid(l)) for fakes: -inf at l = +120
    return -(F.logsigmoid(real_logits).mean() + torch.log(1 - torch.sigmoid(fake_logits)).mean())


def d_loss_clamped(real_logits, fake_logits):  # probabilities, then PyTorch's BCE, which clamps the log at -100
    bce = F.binary_cross_entropy
    d_real, d_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    return bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))


@pytest.mark.parametrize("wrong,message", [
    (lambda r, f: -d_loss_right(r, f), "wrong sign"),
    (lambda r, f: d_loss_right(r, f) / 2, "half"),
    (d_loss_naive, r"REAL term: .*sigmoid\(-120\) underflows.*FAKE term: .*sigmoid\(120\) rounds.*logsigmoid"),
    (d_loss_naive_real_term, r"breaks in the REAL term: [^;]*\. Work from the logit"),  # only the real term named
    (d_loss_naive_fake_term, r"breaks in the FAKE term"),
    (d_loss_clamped, "finite but wrong only for extreme logits.*clamp"),
    (lambda r, f: -(F.logsigmoid(r).sum() + F.logsigmoid(-f).sum()), "summed over the batch"),
    (lambda r, f: -(F.logsigmoid(f).mean() + F.logsigmoid(-r).mean()), "Real and fake are swapped"),
    # one term mixed up: the message names that term
    (lambda r, f: -(F.logsigmoid(r).mean() + F.logsigmoid(f).mean()),
     r"^(?!.*REAL term).*FAKE term is wrong: you used log D\(G\(z\)\) = F\.logsigmoid\(fake_logits\)"),
    (lambda r, f: -(F.logsigmoid(-r).mean() + F.logsigmoid(-f).mean()),
     r"^(?!.*FAKE term).*REAL term is wrong: you used log\(1 - D\(x\)\) = F\.logsigmoid\(-real_logits\)"),
    (lambda r, f: -F.logsigmoid(r).mean() + F.logsigmoid(-f).mean(), r"FAKE term has the wrong sign.*BOTH terms"),
    (lambda r, f: F.logsigmoid(-r).mean() + F.logsigmoid(f).mean(),  # swapped, and no minus in front
     r"Real and fake are swapped.*Both terms also have the wrong sign"),
])
def test_discriminator_loss_check_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        checks.check_discriminator_loss(wrong)
    assert "passed" not in capsys.readouterr().out


def test_discriminator_loss_check_wants_one_number(capsys):
    with pytest.raises(ExerciseError, match="one number.*mean over the batch"):
        checks.check_discriminator_loss(lambda r, f: -(F.logsigmoid(r) + F.logsigmoid(-f)))
    assert "passed" not in capsys.readouterr().out


def test_discriminator_loss_check_lets_not_implemented_through(capsys):
    def todo(real_logits, fake_logits):
        raise NotImplementedError("Exercise 3.1")

    with pytest.raises(NotImplementedError, match="Exercise 3.1 is not solved yet"):
        checks.check_discriminator_loss(todo)
    assert "passed" not in capsys.readouterr().out


# -- lesson 03: d_step ----------------------------------------------------------------------------
def d_step_right(G, D, opt_D, real, z):  # written out with PyTorch's BCE, not the package's loss
    fake = G(z).detach()
    loss = d_loss_pytorch_bce(D(real), D(fake))
    opt_D.zero_grad()
    loss.backward()
    opt_D.step()
    return loss


def d_step_returns_logits(G, D, opt_D, real, z):  # returns (loss, D(real), D(fake)) as the package's step
    real_logits, fake_logits = D(real), D(G(z).detach())
    loss = d_loss_right(real_logits, fake_logits)
    opt_D.zero_grad()
    loss.backward()
    opt_D.step()
    return loss.detach(), real_logits.detach(), fake_logits.detach()


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


def d_step_no_grad_fakes(G, D, opt_D, real, z):  # fakes made under no_grad: no graph into G either
    with torch.no_grad():
        fake = G(z)
    loss = d_loss_right(D(real), D(fake))
    opt_D.zero_grad()
    loss.backward()
    opt_D.step()
    return loss


def d_step_no_detach_then_cleared(G, D, opt_D, real, z):  # G's .grad emptied afterwards: the work was still done
    loss = losses.discriminator_loss(D(real), D(G(z)))
    opt_D.zero_grad()
    loss.backward()
    G.zero_grad(set_to_none=True)
    opt_D.step()
    return loss


def d_step_returns_float(G, D, opt_D, real, z):  # loss.item(): section 5's .item() would fail on it
    return d_step_right(G, D, opt_D, real, z).item()


def d_step_zero_grad_after_backward(G, D, opt_D, real, z):  # clears the gradients before the step uses them
    loss = losses.discriminator_loss(D(real), D(G(z).detach()))
    loss.backward()
    opt_D.zero_grad()
    opt_D.step()
    return loss


def d_step_step_before_backward(G, D, opt_D, real, z):
    loss = losses.discriminator_loss(D(real), D(G(z).detach()))
    opt_D.zero_grad()
    opt_D.step()
    loss.backward()
    return loss


def d_step_no_backward(G, D, opt_D, real, z):
    loss = losses.discriminator_loss(D(real), D(G(z).detach()))
    opt_D.zero_grad()
    opt_D.step()
    return loss


def d_step_own_noise(G, D, opt_D, real, z):  # draws new noise instead of using z
    return d_step_right(G, D, opt_D, real, torch.randn_like(z))


def d_step_loss_detached(G, D, opt_D, real, z):  # returns loss.detach(), as the package does: fine
    return d_step_right(G, D, opt_D, real, z).detach()


@pytest.mark.parametrize("right", [d_step_right, d_step_no_grad_fakes, d_step_loss_detached],
                         ids=["loss", "fakes under no_grad", "loss detached"])
def test_d_step_check_passes_right_answers(right, capsys):
    checks.check_d_step(right)
    assert "Exercise 3.2 (d_step): passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (d_step_no_detach, "received gradients.*detach"),
    (d_step_no_detach_then_cleared, "backward pass went on into G.*detach"),
    (d_step_no_zero_grad, "zero_grad"),
    (d_step_no_step, "opt_D.step"),
    (d_step_swapped, "real first"),
    # section 5 calls d_step(...).item(): only one tensor will do, and the message says why
    (d_step_returns_logits, r"returns a tuple of 3 values.*just the loss.*\.item\(\).*package's gl\.train\.d_step "
                            r"also returns D's logits"),
    (d_step_returns_float, r"returns a float, not the loss tensor.*not loss\.item\(\): section 5 calls"),
    (lambda G, D, opt_D, real, z: None, r"returns None.*return loss"),
    (d_step_zero_grad_after_backward, r"cleared before opt_D\.step\(\) ran.*opt_D\.zero_grad\(\), loss\.backward\(\), "
                                      r"opt_D\.step\(\)"),
    (d_step_step_before_backward, r"opt_D\.step\(\) ran before loss\.backward\(\)"),
    (d_step_no_backward, r"no gradient ever reached D's weights.*loss\.backward\(\)"),
    (d_step_own_noise, r"noise of its own.*Use the z you were given"),
])
def test_d_step_check_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message) as err:
        checks.check_d_step(wrong)
    assert "passed" not in capsys.readouterr().out
    assert "so .backward() works" not in str(err.value)  # not the reason: nobody backpropagates what d_step returns


def test_d_step_check_lets_not_implemented_through(capsys):
    def todo(G, D, opt_D, real, z):
        raise NotImplementedError

    with pytest.raises(NotImplementedError, match="Exercise 3.2 is not solved yet"):
        checks.check_d_step(todo)
    assert "passed" not in capsys.readouterr().out


# -- lesson 04: generator losses ------------------------------------------------------------------
def sat_right(logits):
    return F.logsigmoid(-logits).mean()  # mean log(1 - sigmoid(l))


def nonsat_right(logits):
    return -F.logsigmoid(logits).mean()  # mean -log sigmoid(l)


def nonsat_pytorch_bce(logits):  # -log D(G(z)) is BCE with label 1
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


@pytest.mark.parametrize("check,right,printed", [
    ("check_saturating_loss", sat_right, "Exercise 4.1a (saturating loss): passed"),
    ("check_non_saturating_loss", nonsat_right, "Exercise 4.1b (non-saturating loss): passed"),
    ("check_non_saturating_loss", nonsat_pytorch_bce, "Exercise 4.1b (non-saturating loss): passed"),
])
def test_generator_loss_checks_pass_right_answers(check, right, printed, capsys):
    getattr(checks, check)(right)
    assert printed in capsys.readouterr().out


@pytest.mark.parametrize("check,wrong,message", [
    ("check_non_saturating_loss", sat_right, r"the saturating loss.*-F\.logsigmoid\(l\).*swap"),
    ("check_non_saturating_loss", lambda logits: F.logsigmoid(logits).mean(), "wrong sign: put a minus in front"),
    ("check_saturating_loss", lambda logits: -F.logsigmoid(-logits).mean(), "wrong sign.*no minus in front"),
    ("check_saturating_loss", nonsat_right, r"the non-saturating loss.*F\.logsigmoid\(-l\).*swap"),
    # the minus in the wrong place: on the outside instead of on the logit, and the other way round
    ("check_saturating_loss", lambda logits: F.logsigmoid(logits).mean(),
     r"You computed mean log D\(G\(z\)\) = F\.logsigmoid\(l\).*minus belongs on the logit.*F\.logsigmoid\(-l\)"),
    ("check_non_saturating_loss", lambda logits: -F.logsigmoid(-logits).mean(),
     r"You computed mean -log\(1 - D\(G\(z\)\)\) = -F\.logsigmoid\(-l\).*the logit needs no minus"),
    # written with probabilities: each breaks at its own end, and the message names that end
    ("check_saturating_loss", lambda logits: torch.log(1 - torch.sigmoid(logits)).mean(),
     r"logit \+120 .*sigmoid\(120\) rounds to exactly 1\.0.*F\.logsigmoid\(-l\)"),
    ("check_non_saturating_loss", lambda logits: -torch.log(torch.sigmoid(logits)).mean(),
     r"logit -120 .*sigmoid\(-120\) is exactly 0.*-F\.logsigmoid\(l\)"),
    ("check_non_saturating_loss", lambda logits: -torch.log(torch.sigmoid(logits).clamp(min=1e-30)).mean(),
     "finite but wrong only for extreme logits.*clamp"),
    ("check_saturating_loss", lambda logits: F.logsigmoid(-logits).sum(), "summed over the batch"),
    ("check_non_saturating_loss", lambda logits: F.softplus(-logits).sum(), "summed over the batch"),
])
def test_generator_loss_checks_fail_wrong_answers(check, wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        getattr(checks, check)(wrong)
    assert "passed" not in capsys.readouterr().out


@pytest.mark.parametrize("check,exercise", [("check_saturating_loss", "Exercise 4.1a"),
                                            ("check_non_saturating_loss", "Exercise 4.1b")])
def test_generator_loss_checks_let_not_implemented_through(check, exercise, capsys):
    def todo(logits):
        raise NotImplementedError

    with pytest.raises(NotImplementedError, match=f"{exercise} is not solved yet"):
        getattr(checks, check)(todo)
    assert "passed" not in capsys.readouterr().out


# -- lesson 04: g_step ----------------------------------------------------------------------------
def g_step_right(G, D, opt_G, z, saturating=False):  # written out: D frozen by hand, losses from logsigmoid
    D.requires_grad_(False)
    logits = D(G(z))
    loss = sat_right(logits) if saturating else nonsat_right(logits)
    opt_G.zero_grad()
    loss.backward()
    D.requires_grad_(True)
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


def g_step_not_frozen_then_cleared(G, D, opt_G, z, saturating=False):  # D's .grad emptied, the work still done
    loss = losses.generator_loss(D(G(z)), saturating=saturating)
    opt_G.zero_grad()
    loss.backward()
    D.zero_grad(set_to_none=True)
    opt_G.step()
    return loss


def g_step_ignores_saturating(G, D, opt_G, z, saturating=False):
    return g_step_with_frozen(G, D, opt_G, z)


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


def g_step_with_frozen(G, D, opt_G, z, saturating=False):  # the lesson's way: gl.train.frozen, gl.losses
    with frozen(D):
        loss = losses.generator_loss(D(G(z)), saturating=saturating)
        opt_G.zero_grad()
        loss.backward()
    opt_G.step()
    return loss


def g_step_no_grad(G, D, opt_G, z, saturating=False):  # D's verdict under no_grad: nothing detached, no graph
    with frozen(D):
        fake = G(z)
        with torch.no_grad():
            logits = D(fake)
        loss = losses.generator_loss(logits, saturating=saturating)
        opt_G.zero_grad()
        loss.backward()
    opt_G.step()
    return loss


def g_step_returns_float(G, D, opt_G, z, saturating=False):
    return g_step_with_frozen(G, D, opt_G, z, saturating).item()


def g_step_returns_tuple(G, D, opt_G, z, saturating=False):
    fake = G(z)
    return g_step_with_frozen(G, D, opt_G, z, saturating), fake.detach()


def g_step_zero_grad_after_backward(G, D, opt_G, z, saturating=False):
    with frozen(D):
        loss = losses.generator_loss(D(G(z)), saturating=saturating)
        loss.backward()
        opt_G.zero_grad()
    opt_G.step()
    return loss


def g_step_own_noise(G, D, opt_G, z, saturating=False):
    return g_step_with_frozen(G, D, opt_G, torch.randn_like(z), saturating)


@pytest.mark.parametrize("right", [g_step_right, g_step_with_frozen], ids=["written out", "with gl helpers"])
def test_g_step_check_passes_right_answers(right, capsys):
    checks.check_g_step(right)
    assert "Exercise 4.2 (g_step): passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", [
    (g_step_not_frozen, "received gradients.*frozen"),
    (g_step_not_frozen_then_cleared, "computed during the generator step.*frozen"),
    (g_step_left_frozen, "requires_grad=False"),
    (g_step_ignores_saturating, "saturating"),
    (g_step_detached, "NOT be detached"),
    (g_step_no_grad, r"you called D\(\.\.\.\) inside torch\.no_grad\(\)"),
    (g_step_no_zero_grad, "zero_grad"),
    (g_step_zero_grad_after_backward, r"cleared before opt_G\.step\(\) ran.*opt_G\.zero_grad\(\), loss\.backward\(\), "
                                      r"opt_G\.step\(\)"),
    (g_step_own_noise, r"noise of its own.*Use the z you were given"),
    (g_step_returns_float, r"returns a float, not the loss tensor.*not loss\.item\(\)"),
    (g_step_returns_tuple, r"returns a tuple of 2 values: return just the loss"),
])
def test_g_step_check_fails_wrong_answers(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=message) as err:
        checks.check_g_step(wrong)
    assert "passed" not in capsys.readouterr().out
    assert "so .backward() works" not in str(err.value)  # not the reason: nobody backpropagates what g_step returns


def test_g_step_check_lets_not_implemented_through(capsys):
    def todo(G, D, opt_G, z, saturating=False):
        raise NotImplementedError

    with pytest.raises(NotImplementedError, match="Exercise 4.2 is not solved yet"):
        checks.check_g_step(todo)
    assert "passed" not in capsys.readouterr().out
