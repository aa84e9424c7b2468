"""The training steps change only the network they train; the loop records, resumes, and stops cleanly."""
import pytest
import torch

from gan_lessons import models, seed_everything, toy, train
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


@pytest.mark.parametrize("loss", train.LOSSES)
def test_discriminator_step_changes_only_D(gan, loss):
    G, D, opt_G, opt_D = gan
    g0, d0 = _params(G), _params(D)
    train.train_discriminator_step(G, D, opt_D, torch.randn(32, 2), torch.randn(32, 2), loss=loss)
    assert _same(_params(G), g0), "G's parameters changed during a D step"
    assert all(p.grad is None for p in G.parameters()), "G received gradients during a D step"
    assert not _same(_params(D), d0)


@pytest.mark.parametrize("loss", train.LOSSES)
def test_generator_step_changes_only_G_and_gradients_flow_through_D(gan, loss):
    G, D, opt_G, opt_D = gan
    g0, d0 = _params(G), _params(D)
    train.train_generator_step(G, D, opt_G, torch.randn(32, 2), loss=loss)
    assert _same(_params(D), d0)
    assert all(p.grad is None for p in D.parameters())
    assert all(p.requires_grad for p in D.parameters()), "D must be unfrozen after the G step"
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    assert not _same(_params(G), g0)


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
    assert torch.allclose(last["d_star"], p / (p + last["p_g"]).clamp(min=1e-12))


def test_train_2d_records_modes_and_field():
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=16), models.MLPDiscriminator(2, hidden=16)
    h = train.train(G, D, toy.Ring2D(), 5, record_every=5, progress=False)
    assert h[-1]["field"].shape == (17, 17, 2) and h[-1]["d_grid"].shape == (64, 64)
    assert 0 <= h[-1]["modes_covered"] <= 8


def test_k_discriminator_steps_per_generator_step():
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    opt_G, opt_D = train.make_optimizers(G, D)
    calls = {"D": 0, "G": 0}
    opt_D.register_step_post_hook(lambda *a: calls.__setitem__("D", calls["D"] + 1))
    opt_G.register_step_post_hook(lambda *a: calls.__setitem__("G", calls["G"] + 1))
    train.train(G, D, toy.Ring2D(), 4, k=3, opt_G=opt_G, opt_D=opt_D, progress=False)
    assert calls == {"D": 12, "G": 4}


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
    data = torch.randn(100, 2)
    h = train.train(G, D, data, 3, record_every=1, progress=False)
    data[:] = float("nan")
    with pytest.raises(TrainingDiverged, match=r"NaN or infinite at step 4") as err:
        train.train(G, D, data, 10, record_every=5, history=h, opt_G=torch.optim.Adam(G.parameters()),
                    opt_D=torch.optim.Adam(D.parameters()), progress=False)
    assert err.value.step == 4 and err.value.history.last_step == 3


def test_resume_continues_steps_and_history(tmp_path):
    from gan_lessons import checkpoints

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
