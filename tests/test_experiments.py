"""The small experiments of lessons 05-06 (`gan_lessons.experiments`): honest, short runs."""
import math

import pytest
import torch

from gan_lessons import experiments, models, toy


def test_equilibrium_report_of_a_blind_discriminator_is_the_equilibrium():
    torch.manual_seed(0)
    G = models.MLPGenerator(1, 1, hidden=8)
    D = models.MLPDiscriminator(1, hidden=8)
    with torch.no_grad():  # D(x) = sigmoid(0) = 1/2 everywhere
        for p in D.parameters():
            p.zero_()
    r = experiments.equilibrium_report(G, D, toy.Gaussian1D(), n=2000)
    assert r["d_real"] == pytest.approx(0.5) and r["d_fake"] == pytest.approx(0.5)
    assert r["dev_real"] == pytest.approx(0.0, abs=1e-7)
    assert r["value"] == pytest.approx(-math.log(4), abs=1e-6) and abs(r["value_gap"]) < 1e-6
    assert r["w1"] > 2.0  # ... while the untrained G is far from the data (near 0, data at 4)


def test_equilibrium_report_of_constant_players_matches_the_closed_forms():
    torch.manual_seed(0)
    G = models.MLPGenerator(1, 1, hidden=8)
    D = models.MLPDiscriminator(1, hidden=8)
    with torch.no_grad():  # G(z) = 4 for every z (the data's mean); D(x) = sigmoid(1) for every x
        for p in (*G.parameters(), *D.parameters()):
            p.zero_()
        G.net[-1].bias.fill_(4.0)
        D.net[-1].bias.fill_(1.0)
    r = experiments.equilibrium_report(G, D, toy.Gaussian1D(4.0, 0.5), n=2000)
    s = 1 / (1 + math.exp(-1.0))  # sigmoid(1)
    assert r["d_real"] == pytest.approx(s) and r["d_fake"] == pytest.approx(s)
    assert r["dev_real"] == pytest.approx(s - 0.5)
    assert r["value"] == pytest.approx(math.log(s) + math.log(1 - s), abs=1e-6)  # V = E log D + E log(1 - D)
    assert r["value_gap"] == pytest.approx(math.log(s) + math.log(1 - s) + math.log(4), abs=1e-6)
    # all fakes at the mean of N(4, 0.5^2): W1 = E|X - 4| = 0.5 sqrt(2 / pi)
    assert r["w1"] == pytest.approx(0.5 * math.sqrt(2 / math.pi), abs=1e-3)


def test_balance_sweep_runs_every_combination_from_the_same_start():
    rows = experiments.balance_sweep(toy.Ring2D(), ks=(1, 2), lr_ratios=(0.5, 2.0), steps=3, hidden=8,
                                     batch_size=16)
    runs = [(1, 0.5), (1, 2.0), (2, 0.5), (2, 2.0)]
    assert [(r["k"], r["ratio"]) for r in rows] == runs
    for r, (k, ratio) in zip(rows, runs):
        config = r["history"].meta["config"]  # what the run's optimizers and loop really used
        assert config["lr"] == pytest.approx(2e-4) and config["lr_d"] == pytest.approx(ratio * 2e-4)
        assert r["lr_g"] == pytest.approx(2e-4) and r["lr_d"] == pytest.approx(ratio * 2e-4)
        assert config["k"] == k and config["batch_size"] == 16
        assert 0 <= r["modes_covered"] <= r["n_modes"] == 8
        assert r["history"].last_step == 3
    # same seed: the step-0 snapshots (before any training) are identical across runs
    assert torch.equal(rows[0]["history"][0]["samples"], rows[3]["history"][0]["samples"])
    table = experiments.format_table(rows)
    assert table.splitlines()[0].split() == ["k", "ratio", "modes_covered", "high_quality", "d_real", "d_fake"]
    assert len(table.splitlines()) == 2 + len(rows)


def test_balance_sweep_and_table_reject_bad_input():
    with pytest.raises(ValueError, match="integers >= 1"):
        experiments.balance_sweep(toy.Ring2D(), ks=(0,), steps=1)
    with pytest.raises(ValueError, match="positive"):
        experiments.balance_sweep(toy.Ring2D(), lr_ratios=(-1,), steps=1)
    with pytest.raises(TypeError, match="toy distribution"):
        experiments.balance_sweep(torch.randn(10, 2), steps=1)
    with pytest.raises(KeyError, match="no column"):
        experiments.format_table([{"k": 1}], ("k", "nope"))


def test_critic_slopes_of_a_linear_critic_are_its_weight_norm():
    critic = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Flatten(0))
    with torch.no_grad():
        critic[0].weight.copy_(torch.tensor([[3.0, 4.0]]))
    slopes = experiments.critic_slopes(critic, torch.randn(5, 2))
    assert torch.allclose(slopes, torch.full((5,), 5.0))


def test_fit_critic_unconstrained_blows_up_and_penalty_tracks_w1():
    real, fake = toy.Gaussian1D(2.0, 0.5), toy.Gaussian1D(1.0, 0.5)  # exact W1 = 1
    free = experiments.fit_critic(real, fake, steps=60, constraint=None, lr=1e-2, record_every=20, n_eval=1000,
                                  hidden=16)
    assert free["estimate"][0] == 0.0  # the default critic starts at f = 0
    assert free["estimate"][-1] > 3.0 and free["max_slope"][-1] > 3.0  # no constraint: not a distance
    gp = experiments.fit_critic(real, fake, steps=150, constraint="gp", lr=1e-2, record_every=50, n_eval=1000,
                                hidden=16)
    assert 0.8 < gp["estimate"][-1] < 1.3
    clip = experiments.fit_critic(real, fake, steps=20, constraint="clip", clip=0.01, record_every=10,
                                  n_eval=1000, hidden=16)
    assert all(p.abs().max() <= 0.01 + 1e-7 for p in clip["critic"].parameters())
    assert clip["max_slope"][-1] < 0.1


def test_fit_critic_rejects_bad_input():
    with pytest.raises(ValueError, match="constraint"):
        experiments.fit_critic(toy.Gaussian1D(), toy.Gaussian1D(), constraint="spectral")
    with pytest.raises(ValueError, match="same space"):
        experiments.fit_critic(toy.Gaussian1D(), toy.Ring2D())
