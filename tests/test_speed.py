"""gan_lessons.speed: a drop-in step for train.train; same results where they must be, clear errors.

The GPU paths (CUDA graph, torch.compile, bf16 on CUDA) cannot run here; what is checked on the CPU
is that they are validated, fall back to the plain path with a warning, and that the fast step does
what the textbook step does.
"""
import copy
import sys
import warnings

import numpy as np
import pytest
import torch

from gan_lessons import experiments, losses, models, seed_everything, speed, toy, train


def _params(m):
    return [p.detach().clone() for p in m.parameters()]


def _mlp_pair():
    return models.MLPGenerator(1, 1, hidden=16), models.MLPDiscriminator(1, hidden=16)


def _fake_images(n=128, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g) * 2 - 1  # [n, 1, 28, 28] in [-1, 1]


def _dcgan_run(steps=3, **options):
    seed_everything(0)
    G, D = models.DCGANGenerator(latent_dim=8, width=8), models.DCGANDiscriminator(width=8)
    images = _fake_images()
    step = speed.fast_step(G, D, speed.Options(**options), data=images)
    h = train.train(G, D, images, steps, batch_size=16, record_every=1, progress=False, step=step)
    return h, G, D


@pytest.mark.skipif(not speed.bf16_supported("cpu"), reason="this CPU has no bfloat16 instructions")
def test_bf16_on_cpu_is_close_to_fp32_but_really_lower_precision():
    h32, G32, _ = _dcgan_run()
    h16, G16, _ = _dcgan_run(precision="bf16")
    for key in ("d_loss", "g_loss"):
        a, b = h32[1][key], h16[1][key]  # first step: same weights, only the arithmetic differs
        assert abs(a - b) <= 0.03 * abs(a) + 1e-3, (key, a, b)
    assert h32[1]["d_loss"] != h16[1]["d_loss"], "bf16 gave bit-identical losses: autocast was not applied"
    assert all(p.dtype == torch.float32 for p in G16.parameters()), "weights must stay float32"
    assert h16.meta["config"]["step"]["precision"] == "bf16" and h32.meta["config"]["step"]["precision"] == "fp32"


def test_bf16_falls_back_to_fp32_with_a_warning_where_it_would_be_slow(monkeypatch):
    """A CPU without bfloat16 instructions emulates it, ~10x slower: the option must never slow a machine."""
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert not speed.bf16_supported("cpu")
    h32, G32, _ = _dcgan_run()
    with pytest.warns(UserWarning, match="no bfloat16 instructions"):
        h16, G16, _ = _dcgan_run(precision="bf16")
    assert [s.get("d_loss") for s in h32] == [s.get("d_loss") for s in h16]


def test_autocast_wrapper_computes_in_bf16_and_returns_fp32():
    D = models.DCGANDiscriminator(width=8)
    seen = []
    D.net[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    out = speed.Autocast(D)(_fake_images(4))
    assert seen == [torch.bfloat16] and out.dtype == torch.float32 and out.shape == (4,)
    assert speed.Autocast(models.DCGANGenerator(latent_dim=8, width=8)).latent_dim == 8
    assert set(map(id, speed.Autocast(D).parameters())) == set(map(id, D.parameters()))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
@pytest.mark.parametrize("option", [dict(cuda_graph=True), dict(compile=True)])
def test_gpu_only_options_fall_back_on_cpu_with_same_result(option):
    h_plain, G_plain, _ = _dcgan_run()
    with pytest.warns(UserWarning, match="training without it"):
        h_fast, G_fast, _ = _dcgan_run(**option)
    assert [s.get("d_loss") for s in h_plain] == [s.get("d_loss") for s in h_fast]
    for p, q in zip(_params(G_plain), _params(G_fast)):
        assert torch.equal(p, q)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(precision="fp16"), ValueError, "bf16 has float32's range"),
    (dict(precision="fp8"), ValueError, "precision must be one of fp32, bf16"),
    (dict(cuda_graph="yes"), TypeError, "cuda_graph must be True or False"),
    (dict(compile="reduce-overhead"), ValueError, "cuda_graph=True instead"),
    (dict(compile="fast"), ValueError, "compile must be True, False or one of"),
    (dict(compile=True, cuda_graph=True), ValueError, "not both"),
    (dict(compile=True, loss="wgan-gp"), ValueError, "double backward"),
])
def test_bad_speed_options_are_rejected_before_training(kwargs, error, match):
    G, D = _mlp_pair()
    before = _params(G)
    loss = kwargs.pop("loss", "bce")
    with pytest.raises(error, match=match):
        step = speed.fast_step(G, D, speed.Options(**kwargs))
        train.train(G, D, toy.Gaussian1D(), 5, loss=loss, progress=False, step=step)
    assert all(torch.equal(p, q) for p, q in zip(before, _params(G)))


def test_option_aliases():
    assert speed.Options(precision=torch.bfloat16).precision == "bf16"
    assert speed.Options(precision="float32", compile=True).compile == "default"
    assert speed.Options(precision=None, compile=None).config == dict(precision="fp32", reuse_fake=False,
                                                                       cuda_graph=False, compile=False)
    with pytest.raises(TypeError, match="options must be gan_lessons.speed.Options"):
        speed.fast_step(*_mlp_pair(), dict(precision="bf16"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_graphed_step_needs_cuda():
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        speed.GraphedStep(lambda: None, [])


def test_make_capturable_sets_the_flag_and_leaves_sgd_alone():
    G, D = _mlp_pair()
    adam, _ = train.make_optimizers(G, D)
    speed.make_capturable(adam)
    assert all(g["capturable"] for g in adam.param_groups)
    sgd = torch.optim.SGD(D.parameters(), lr=0.1)
    assert speed.make_capturable(sgd) is sgd


def test_tune_backends_sets_threads_and_rejects_nonsense():
    old = torch.get_num_threads()
    try:
        assert speed.tune_backends("cpu", threads=1) == {"threads": 1} and torch.get_num_threads() == 1
        assert 1 <= speed.physical_cores() <= (torch.multiprocessing.cpu_count() or 1)
        with pytest.raises(ValueError, match="threads must be >= 1"):
            speed.tune_backends("cpu", threads=0)
    finally:
        torch.set_num_threads(old)


def _count_readbacks(run):
    """How many times gan_lessons code turned a tensor into a Python number (a host sync on a GPU)."""
    count = [0]
    names = ("item", "__float__", "__int__", "__bool__", "tolist")
    saved = {n: getattr(torch.Tensor, n) for n in names}

    def wrap(fn):
        def counted(self, *a, **kw):
            if "gan_lessons" in sys._getframe(1).f_code.co_filename:
                count[0] += 1
            return fn(self, *a, **kw)
        return counted

    try:
        for n, fn in saved.items():
            setattr(torch.Tensor, n, wrap(fn))
        run()
    finally:
        for n, fn in saved.items():
            setattr(torch.Tensor, n, fn)
    return count[0]


def test_loop_reads_tensors_back_only_when_recording():
    def run(steps):
        seed_everything(0)
        G, D = models.MLPGenerator(4, (1, 28, 28), hidden=16), models.MLPDiscriminator((1, 28, 28), hidden=16)
        return lambda: train.train(G, D, _fake_images(64), steps, batch_size=8, record_every=steps // 2,
                                   progress=False)

    short, long = _count_readbacks(run(10)), _count_readbacks(run(40))
    assert short > 0, "the counter saw nothing: the test is broken"
    assert short == long, f"4x the steps with the same number of snapshots read back {long} vs {short} times"


def test_ring_recipe_builds_and_trains():
    G, D, kwargs = experiments.ring_gan_recipe(seed=0)
    assert kwargs["batch_size"] == experiments.RING_RECIPE["batch_size"]
    kwargs.update(steps=20, progress=False, batch_size=64)  # small: this checks wiring, not quality
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = train.train(G, D, toy.Ring2D(), **kwargs)
    assert h.last_step == 20 and kwargs["opt_G"].param_groups[0]["betas"] == experiments.RING_RECIPE["betas"]
    # The callback cuts both learning rates once, at the recipe's decay step.
    lr = experiments.RING_RECIPE["lr"]
    assert kwargs["opt_D"].param_groups[0]["lr"] == lr
    h.snapshots[-1]["step"] = int(experiments.RING_RECIPE["decay_at"] * experiments.RING_RECIPE["steps"])
    kwargs["callback"](h)
    kwargs["callback"](h)
    for opt in (kwargs["opt_G"], kwargs["opt_D"]):
        assert opt.param_groups[0]["lr"] == pytest.approx(lr * experiments.RING_RECIPE["decay"])


# -- reuse_fake: the textbook's shortcut, one generator forward per step ----------------------------

def test_reuse_fake_is_the_textbook_step():
    """Options(reuse_fake=True) == pytorch/examples' step written out with PyTorch's own BCE."""
    data, steps, b = toy.Gaussian1D(), 15, 32
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    seed_everything(0)
    G, D = _mlp_pair()
    forwards = []
    G.register_forward_hook(lambda m, i, o: forwards.append(o.shape[0]))
    step = speed.fast_step(G, D, speed.Options(reuse_fake=True))
    train.train(G, D, data, steps, batch_size=b, record_every=steps, progress=False, seed=3, step=step)
    assert forwards.count(b) == steps, "reuse_fake should run G once per step on a training batch"

    seed_everything(0)
    G2, D2 = _mlp_pair()
    opt_G, opt_D = train.make_optimizers(G2, D2)
    torch.manual_seed(3)
    train.sample_z(1000, G2.latent_dim)  # train() draws the fixed noise first
    ones, zeros = torch.ones(b), torch.zeros(b)
    for _ in range(steps):
        real, z = data.sample(b), train.sample_z(b, 1)
        fake = G2(z)
        opt_D.zero_grad()
        (bce(D2(real), ones) + bce(D2(fake.detach()), zeros)).backward()
        opt_D.step()
        opt_G.zero_grad()
        bce(D2(fake), ones).backward()  # the same fakes, scored by the updated D
        opt_G.step()
    for p, q in zip(_params(G) + _params(D), _params(G2) + _params(D2)):
        assert torch.allclose(p, q, atol=1e-6)


def test_step_functions_accept_a_precomputed_fake():
    seed_everything(0)
    G, D = _mlp_pair()
    real, z = torch.randn(16, 1) + 3, torch.randn(16, 1)
    results = []
    for fake in (None, G(z)):
        D_copy = models.MLPDiscriminator(1, hidden=16)
        D_copy.load_state_dict(D.state_dict())
        opt = torch.optim.SGD(D_copy.parameters(), lr=0.1)
        results.append(train.d_step(G, D_copy, opt, real, z, fake=fake)[0])
    assert torch.equal(results[0], results[1])
    assert all(p.grad is None for p in G.parameters()), "the D step must not reach G"
    # G's step on a given fake backpropagates through that fake's graph into G.
    opt_G = torch.optim.SGD(G.parameters(), lr=0.1)
    before = _params(G)
    train.g_step(G, D, opt_G, None, fake=G(z))
    assert any(not torch.equal(p, q) for p, q in zip(before, _params(G)))


# -- EMA: generator weight averaging -----------------------------------------------------------------

def test_ema_follows_the_formula_with_its_warm_up():
    G = models.MLPGenerator(2, 2, hidden=4)
    ema = speed.EMA(G, decay=0.9)
    start = _params(ema.model)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(1.0)
    ema.update(G)  # first update: decay min(0.9, 2/11)
    d = 2 / 11
    for a, s, p in zip(ema.model.parameters(), start, G.parameters()):
        assert torch.allclose(a, d * s + (1 - d) * p)
    for _ in range(200):
        ema.update(G)
    assert all(torch.allclose(a, p, atol=1e-6) for a, p in zip(ema.model.parameters(), G.parameters()))
    assert not any(p.requires_grad for p in ema.model.parameters()) and not ema.model.training


def test_train_updates_the_ema_every_generator_step_and_it_round_trips():
    seed_everything(0)
    G, D = models.DCGANGenerator(latent_dim=8, width=8), models.DCGANDiscriminator(width=8)
    ema = speed.EMA(G, decay=0.99)
    step = speed.fast_step(G, D, speed.Options(ema=ema))
    h = train.train(G, D, _fake_images(), 6, batch_size=16, k=2, progress=False, step=step)
    assert ema.updates == 6 and h.meta["config"]["step"]["ema_decay"] == 0.99
    assert any(not torch.equal(a, p) for a, p in zip(ema.model.parameters(), G.parameters()))
    # batch norm's running statistics are copied from G, not averaged
    with torch.no_grad():
        G.project[1].running_mean.fill_(3.0)
    ema.update(G)
    assert torch.equal(ema.model.project[1].running_mean, G.project[1].running_mean)
    other = speed.EMA(models.DCGANGenerator(latent_dim=8, width=8))
    other.load_state_dict(ema.state_dict())
    assert other.updates == 7 and all(torch.equal(a, b) for a, b in zip(other.model.parameters(),
                                                                        ema.model.parameters()))


@pytest.mark.parametrize("make, error, match", [
    (lambda G: speed.EMA(G, decay=1.0), ValueError, r"decay must be in \[0, 1\)"),
    (lambda G: speed.Options(ema=G), TypeError, "ema must be a gan_lessons.speed.EMA"),
    (lambda G: speed.EMA(G).update(models.MLPGenerator(1, 1, hidden=16, layers=3)), ValueError,
     "different architecture"),
])
def test_ema_bad_input(make, error, match):
    with pytest.raises(error, match=match):
        make(models.MLPGenerator(1, 1, hidden=16))


# -- channels_last: automatic on the CPU for convolutional networks ----------------------------------

def _is_cl(model):
    return all(p.is_contiguous(memory_format=torch.channels_last) for p in model.parameters() if p.dim() == 4)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the automatic choice differs on a GPU")
def test_channels_last_is_automatic_on_cpu_and_changes_no_result():
    h_cl, G_cl, D_cl = _dcgan_run()
    h_plain, G_plain, D_plain = _dcgan_run(channels_last=False)
    assert _is_cl(G_cl) and _is_cl(D_cl)
    assert not _is_cl(G_plain) and not _is_cl(D_plain)
    for p, q in zip(_params(G_cl) + _params(D_cl), _params(G_plain) + _params(D_plain)):
        assert torch.allclose(p, q, atol=1e-4), "the memory layout must not change what is learned"
    assert [s["step"] for s in h_cl] == [s["step"] for s in h_plain]
    G, D = _mlp_pair()
    assert speed.set_channels_last(G, D) is False  # nothing convolutional to convert


@pytest.mark.parametrize("kwargs, match", [
    (dict(channels_last="yes"), "channels_last must be True, False or None"),
    (dict(reuse_fake="yes"), "reuse_fake must be True or False"),
])
def test_layout_and_reuse_options_reject_nonsense(kwargs, match):
    with pytest.raises(TypeError, match=match):
        speed.Options(**kwargs)


@pytest.mark.parametrize("loss, k", [("wgan-gp", 3), ("wgan-clip", 2), ("bce", 2)])
def test_reuse_fake_with_k_steps_and_every_loss(loss, k):
    """With k critic steps, only the last one's fakes are reused: k forward passes of G per step, not k + 1."""
    seed_everything(0)
    G, D = _mlp_pair()
    calls = []
    G.register_forward_hook(lambda m, i, o: calls.append(o.shape[0]))
    step = speed.fast_step(G, D, speed.Options(reuse_fake=True))
    h = train.train(G, D, toy.Gaussian1D(), 4, batch_size=32, k=k, loss=loss, record_every=4, progress=False,
                    step=step)
    assert calls.count(32) == 4 * k and h.meta["config"]["step"]["reuse_fake"] is True
    assert all(np.isfinite(s["d_loss"]) for s in h if "d_loss" in s)


# -- R1: a penalty on D's slope at the real data (the ring recipe's stabiliser) -----------------------

def test_r1_penalty_matches_per_example_autograd():
    seed_everything(0)
    D = models.MLPDiscriminator(2, hidden=16)
    real = torch.randn(8, 2).requires_grad_(True)
    got = losses.r1_penalty(D(real), real)
    want = sum(torch.autograd.functional.jacobian(lambda x: D(x[None])[0], real[i].detach()).pow(2).sum()
               for i in range(8)) / 8
    assert torch.allclose(got, want, atol=1e-6)
    with pytest.raises(ValueError, match="requires grad"):
        losses.r1_penalty(D(real.detach()), real.detach())


def test_r1_weight_adds_the_penalty_to_the_d_step():
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=16), models.MLPDiscriminator(2, hidden=16)
    real, z = torch.randn(16, 2), torch.randn(16, 2)
    plain = train.d_step(G, copy.deepcopy(D), torch.optim.SGD(D.parameters(), lr=0.0), real, z)[0]
    D2 = copy.deepcopy(D)
    with_r1 = train.d_step(G, D2, torch.optim.SGD(D2.parameters(), lr=0.0), real, z, r1_weight=2.0)[0]
    r = real.clone().requires_grad_(True)
    assert torch.allclose(with_r1 - plain, losses.r1_penalty(D(r), r), atol=1e-6)  # gamma / 2 = 1
    assert not real.requires_grad, "the caller's batch must not be changed"
    step = speed.fast_step(G, D, r1_weight=0.1)
    h = train.train(G, D, toy.Ring2D(), 3, batch_size=16, record_every=3, progress=False, step=step)
    assert h.meta["config"]["step"]["r1_weight"] == 0.1
    with pytest.raises(ValueError, match="r1_weight must be a number >= 0"):
        speed.fast_step(G, D, r1_weight=-1)
    with pytest.raises(TypeError, match="unknown penalty 'gp'"):
        speed.fast_step(G, D, gp=10)
