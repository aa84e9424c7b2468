"""Issue 13, training / models / losses: every reported case and every audited one, as the learner hits it.

Each test reproduces the case (the table is in docs/reliability.md, section "Training, models and
losses") and checks what the learner gets now: the run, or an error that names their object and
the fix, with nothing they made lost.
"""
import sys
import types

import numpy as np
import pytest
import torch

import gan_lessons as gl
from gan_lessons import losses, models, seed_everything, speed, toy, train
from gan_lessons.data import ImageData
from gan_lessons.errors import CallbackError, GanLessonsError, TrainingDiverged


def _params(m):
    return [p.detach().clone() for p in m.parameters()]


def _same(a, b):
    return all(torch.allclose(x, y, rtol=0, atol=0, equal_nan=True) for x, y in zip(a, b))


def _pair(dim=2, latent=2):
    return models.MLPGenerator(latent, dim, hidden=8), models.MLPDiscriminator(dim, hidden=8)


def _image_pair():
    return models.MLPGenerator(4, (1, 28, 28), hidden=8), models.MLPDiscriminator((1, 28, 28), hidden=8)


def _images(n=40):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1  # in [-1, 1]


def _refused(error, match, G, D, data, steps=3, **kwargs):
    """train refuses before any step: the error matches and G and D keep their weights."""
    before = _params(G) + _params(D)
    with pytest.raises(error, match=match) as info:
        train.train(G, D, data, steps, progress=False, **kwargs)
    assert _same(_params(G) + _params(D), before), "a refused run must not have trained"
    return info.value


def _poison(model):
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))


# == reported 3: an exception in a callback ==========================================================

def test_a_failing_callback_keeps_the_history_and_the_weights():
    seed_everything(0)
    G, D = _pair()
    opt_G, opt_D = train.make_optimizers(G, D)
    start = _params(G)

    def cb(h):
        if h.last_step == 20:
            raise ValueError("bug")

    with pytest.raises(CallbackError, match=r"callback cb failed at step 20 with ValueError: bug.*\.history") as err:
        train.train(G, D, toy.Ring2D(), 50, record_every=10, callback=cb, opt_G=opt_G, opt_D=opt_D, progress=False)
    e = err.value
    assert isinstance(e, GanLessonsError) and isinstance(e.__cause__, ValueError)
    assert e.step == 20 and e.history.steps == [0, 10, 20]
    assert not _same(_params(G), start), "G keeps the 20 steps it trained"
    # the run goes on from the kept history once the callback is fixed
    h = train.train(G, D, toy.Ring2D(), 30, record_every=10, history=e.history, opt_G=opt_G, opt_D=opt_D,
                    progress=False)
    assert h.steps == [0, 10, 20, 30, 40, 50]


# == reported 4: after a divergence ==================================================================

def _nan_at(step_no):
    """A step whose G turns NaN at generator step `step_no` (a run diverging), counting the steps run."""
    calls = []

    def step(G, D, *args):
        calls.append(1)
        if len(calls) == step_no:
            _poison(G)
        return train.gan_step(G, D, *args)

    return step, calls


def test_diverged_message_says_the_weights_are_nan_and_how_to_start_over():
    seed_everything(0)
    G, D = _pair()
    step, _ = _nan_at(3)
    with pytest.raises(TrainingDiverged, match=r"at step 3.*(G|G and D) now holds? NaN or infinite weights.*"
                                               r"Start over: rebuild G and D.*new optimizers") as err:
        train.train(G, D, toy.Ring2D(), 10, record_every=5, progress=False, step=step)
    assert "Try a smaller learning rate" not in str(err.value), "that advice loops when the weights are NaN"
    assert err.value.history.last_step == 0


def test_diverged_message_without_nan_weights_still_suggests_a_smaller_lr():
    G, D = _pair()

    def nan_loss(*args):
        d_loss, *rest = train.gan_step(*args)
        return (d_loss * float("nan"), *rest)

    with pytest.raises(TrainingDiverged, match="Try a smaller learning rate") as err:
        train.train(G, D, toy.Ring2D(), 5, record_every=5, progress=False, step=nan_loss)
    assert "now hold" not in str(err.value)


def test_nan_weights_are_refused_before_training():
    G, D = _pair()
    _poison(G)
    _refused(ValueError, r"G holds NaN or infinite values.*diverge again at step 1.*rebuild G and D.*load_checkpoint"
             r".*make_optimizers", G, D, toy.Ring2D(), lr=1e-5)


def test_nan_optimizer_state_is_refused_before_training():
    G, D = _pair()
    opt_G, opt_D = train.make_optimizers(G, D)
    train.train(G, D, toy.Ring2D(), 2, opt_G=opt_G, opt_D=opt_D, progress=False)
    for state in opt_D.state.values():
        state["exp_avg"].fill_(float("nan"))
    _refused(ValueError, r"opt_D's state holds NaN.*new optimizers", G, D, toy.Ring2D(), opt_G=opt_G, opt_D=opt_D)


def test_a_diverged_run_stops_within_a_few_dozen_steps_not_at_the_next_snapshot():
    """Reported: with record_every=3000 a run diverged at step 1 trained on (26 s) until the snapshot."""
    G, D = _pair()
    step, calls = _nan_at(1)
    with pytest.raises(TrainingDiverged, match="at step 1") as err:
        train.train(G, D, toy.Ring2D(), 3000, record_every=3000, batch_size=8, progress=False, step=step)
    assert len(calls) <= train.CHECK_EVERY, f"trained {len(calls)} steps after diverging"
    assert err.value.step == 1 and err.value.history.last_step == 0


def test_the_nan_check_reads_back_at_most_once_per_check_interval():
    from test_speed import _count_readbacks

    def run(steps):
        seed_everything(0)
        G, D = _pair()
        return lambda: train.train(G, D, torch.randn(64, 2), steps, batch_size=8, record_every=steps, progress=False)

    short, long = _count_readbacks(run(10)), _count_readbacks(run(200))
    assert short > 0, "the counter saw nothing: the test is broken"
    extra = long - short  # same snapshots (step 0 and the last), 190 more steps
    assert 0 < extra <= 200 // train.CHECK_EVERY, f"{extra} extra readbacks for 190 more steps"


# == reported 5: optimizer mistakes ====================================================================

@pytest.mark.parametrize("which", ["opt_G", "opt_D"])
def test_only_one_optimizer_is_refused(which):
    G, D = _pair()
    opt = torch.optim.Adam((G if which == "opt_G" else D).parameters(), lr=1e-3)
    _refused(ValueError, rf"got {which} but no opt_[GD]: pass both optimizers or neither", G, D, toy.Ring2D(),
             **{which: opt})


def test_swapped_optimizers_are_refused():
    G, D = _pair()
    opt_G, opt_D = train.make_optimizers(G, D)
    _refused(ValueError, r"opt_G optimizes D's parameters: swap them", G, D, toy.Ring2D(), opt_G=opt_D, opt_D=opt_G)


def test_optimizers_of_other_models_are_refused():
    G, D = _pair()
    opt_G, opt_D = train.make_optimizers(*_pair())  # built for another pair
    _refused(ValueError, r"opt_G does not hold G's parameters.*torch\.optim\.Adam\(G\.parameters\(\)", G, D,
             toy.Ring2D(), opt_G=opt_G, opt_D=opt_D)
    own_G, _ = train.make_optimizers(G, D)
    _refused(ValueError, r"opt_D does not hold D's parameters", G, D, toy.Ring2D(), opt_G=own_G, opt_D=opt_D)
    # an optimizer over the trainable parameters only is fine
    G.net[0].requires_grad_(False)
    opt = torch.optim.Adam([p for p in G.parameters() if p.requires_grad])
    train.train(G, D, toy.Ring2D(), 1, opt_G=opt, opt_D=torch.optim.Adam(D.parameters()), progress=False)


def test_lr_with_optimizers_is_refused_as_it_would_be_ignored():
    G, D = _pair()
    opt_G, opt_D = train.make_optimizers(G, D)
    _refused(ValueError, r"lr and lr_d .* would be ignored", G, D, toy.Ring2D(), opt_G=opt_G, opt_D=opt_D, lr=1e-3)
    _refused(ValueError, r"would be ignored", G, D, toy.Ring2D(), opt_G=opt_G, opt_D=opt_D, lr_d=1e-3)


# == reported 7: resuming with the wrong history =======================================================

def _ring_run(G=None, D=None, data=None, loss="bce"):
    G, D = (G, D) if G is not None else _pair()
    opt_G, opt_D = train.make_optimizers(G, D, loss)
    h = train.train(G, D, toy.Ring2D() if data is None else data, 2, loss=loss, opt_G=opt_G, opt_D=opt_D,
                    progress=False)
    return G, D, opt_G, opt_D, h


def test_resuming_with_another_loss_is_refused():
    G, D, _, _, h = _ring_run()
    opt_G, opt_D = train.make_optimizers(G, D, "wgan-gp")
    _refused(ValueError, r"recorded with loss 'bce', but this run has 'wgan-gp'", G, D, toy.Ring2D(), history=h,
             loss="wgan-gp", opt_G=opt_G, opt_D=opt_D)
    assert h.last_step == 2, "the history is not touched"


def test_resuming_on_another_toy_distribution_is_refused():
    G, D, opt_G, opt_D, h = _ring_run()
    _refused(ValueError, r"toy distribution 'ring', but this run has 'grid'", G, D, toy.Grid2D(), history=h,
             opt_G=opt_G, opt_D=opt_D)
    _refused(ValueError, r"toy distribution 'ring', but this run has a 'ring' with other modes", G, D,
             toy.Ring2D(radius=3.0), history=h, opt_G=opt_G, opt_D=opt_D)
    train.train(G, D, toy.Ring2D(), 2, history=h, opt_G=opt_G, opt_D=opt_D, progress=False)  # the same ring: fine
    assert h.last_step == 4


def test_resuming_with_another_kind_of_data_or_latent_size_is_refused():
    _, _, _, _, h = _ring_run()
    G1, D1 = _pair(dim=1)
    opt_G, opt_D = train.make_optimizers(G1, D1)
    _refused(ValueError, r"kind of data '2d', but this run has '1d'", G1, D1, toy.Gaussian1D(), history=h,
             opt_G=opt_G, opt_D=opt_D)
    G3, D3 = _pair(latent=3)
    opt_G, opt_D = train.make_optimizers(G3, D3)
    _refused(ValueError, r"latent_dim 2, but this run has 3", G3, D3, toy.Ring2D(), history=h, opt_G=opt_G, opt_D=opt_D)


def test_resuming_on_another_dataset_is_refused():
    mnist = ImageData(_images(), torch.zeros(40, dtype=torch.long), "mnist", "train", [str(i) for i in range(10)])
    fashion = mnist._replace(name="fashion-mnist")
    G, D, opt_G, opt_D, h = _ring_run(*_image_pair(), data=mnist)
    _refused(ValueError, r"dataset 'mnist', but this run trains on 'fashion-mnist'", G, D, fashion, history=h,
             opt_G=opt_G, opt_D=opt_D)


def test_resuming_with_another_n_fixed_is_refused():
    G, D, opt_G, opt_D, h = _ring_run()
    _refused(ValueError, r"n_fixed=10, but the history you resume keeps 1000", G, D, toy.Ring2D(), history=h,
             opt_G=opt_G, opt_D=opt_D, n_fixed=10)


# == reported 8: common slips ==========================================================================

def test_numpy_steps_are_accepted():
    G, D = _pair()
    h = train.train(G, D, toy.Ring2D(), np.int64(10), record_every=np.int64(5), progress=False)
    assert h.steps == [0, 5, 10]


def test_uint8_images_are_refused_with_the_conversion():
    G, D = _image_pair()
    pixels = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8)
    _refused(TypeError, r"uint8.*pixel values 0\.\.255.*data\.float\(\) / 127\.5 - 1", G, D, pixels, batch_size=8)


def test_float_images_in_0_255_are_refused_with_the_scaling():
    G, D = _image_pair()
    _refused(ValueError, r"spans \[.*, 255\].*\[-1, 1\].*data / 127\.5 - 1", G, D, (_images() + 1) * 127.5,
             batch_size=8)
    train.train(G, D, (_images() + 1) / 2, 1, batch_size=8, progress=False)  # [0, 1] is within tanh's range: fine


def test_calling_the_train_module_says_where_the_function_is():
    G, D = _pair()
    with pytest.raises(TypeError, match=r"gl\.train is the training module.*gl\.train\.train\(G, D, data, steps"):
        gl.train(G, D, toy.Ring2D(), 3)
    assert isinstance(gl.train, types.ModuleType) and sys.modules["gan_lessons.train"] is gl.train
    assert gl.train.train(G, D, toy.Ring2D(), 1, progress=False).last_step == 1


def test_batch_of_one_with_batch_norm_is_refused_by_train():
    G, D = models.DCGANGenerator(8, 4), models.DCGANDiscriminator(4)
    _refused(ValueError, r"batch_size=1: G uses batch norm.*at least 2", G, D, _images(), batch_size=1)
    _refused(ValueError, r"n_fixed=1: G uses batch norm", G, D, _images(), batch_size=8, n_fixed=1)


def test_batch_of_one_through_a_batch_norm_generator_says_what_to_do():
    G = models.DCGANGenerator(8, 4)
    with pytest.raises(ValueError, match=r"DCGANGenerator uses batch norm.*batch of 1.*G\.eval\(\)"):
        G(torch.randn(1, 8))
    assert G.eval()(torch.randn(1, 8)).shape == (1, 1, 28, 28)  # the advice works


# == audit: losses =====================================================================================

def test_losses_take_probabilities_as_logits_as_documented():
    """Values in [0, 1] are legal logits too: the losses cannot tell, and compute the logit formula."""
    p = torch.tensor([0.9, 0.8, 0.7])
    want = -torch.log(torch.sigmoid(p)).mean() - torch.log(1 - torch.sigmoid(1 - p)).mean()
    assert torch.allclose(losses.discriminator_loss(p, 1 - p), want)


def test_losses_accept_B1_shapes_and_batches_of_different_sizes():
    real, fake = torch.randn(4, 1), torch.randn(6)
    assert torch.allclose(losses.discriminator_loss(real, fake), losses.discriminator_loss(real.view(-1), fake))
    assert torch.allclose(losses.critic_loss(real, fake), fake.mean() - real.mean())
    assert torch.allclose(losses.generator_loss(real), losses.generator_loss(real.view(-1)))


@pytest.mark.parametrize("call, error, match", [
    (lambda: losses.discriminator_loss(torch.tensor([1, 2]), torch.tensor([0, 1])), TypeError,
     r"discriminator_loss expects float real_logits, got torch\.int64.*\.float\(\)"),
    (lambda: losses.generator_loss(torch.tensor([1, 2])), TypeError, "generator_loss expects float fake_logits"),
    (lambda: losses.wasserstein_generator_loss(torch.tensor([1, 2])), TypeError, "expects float fake_scores"),
    (lambda: losses.critic_loss(torch.ones(2, dtype=torch.long), torch.ones(2)), TypeError,
     "expects float real_scores"),
])
def test_losses_refuse_integer_tensors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_losses_refuse_non_tensors():
    with pytest.raises(TypeError, match=r"discriminator_loss expects real_logits as a tensor.*got ndarray"):
        losses.discriminator_loss(np.zeros(3), np.zeros(3))
    with pytest.raises(TypeError, match=r"generator_loss expects fake_logits as a tensor.*got list"):
        losses.generator_loss([0.1, 0.2])


def test_losses_refuse_an_empty_batch_instead_of_returning_nan():
    with pytest.raises(ValueError, match="empty batch of real_logits"):
        losses.discriminator_loss(torch.zeros(0), torch.zeros(3))
    with pytest.raises(ValueError, match="empty batch of fake_scores"):
        losses.wasserstein_generator_loss(torch.zeros(0))


def test_losses_refuse_several_numbers_per_example():
    with pytest.raises(ValueError, match=r"one number per example.*got shape \[4, 10\].*10 outputs instead of 1"):
        losses.discriminator_loss(torch.randn(4, 10), torch.randn(4))
    with pytest.raises(ValueError, match="one number per example"):
        losses.critic_loss(torch.randn(4), torch.randn(4, 2))


@pytest.mark.parametrize("value", ["yes", "no", 1, None])
def test_generator_loss_refuses_a_saturating_that_is_not_a_bool(value):
    with pytest.raises(TypeError, match=r"saturating must be True or False"):
        losses.generator_loss(torch.randn(4), saturating=value)


def test_gradient_penalty_on_batches_of_different_sizes_says_so():
    with pytest.raises(ValueError, match=r"same shape.*got \[4, 2\] and \[5, 2\].*as many fakes as reals"):
        losses.gradient_penalty(models.MLPCritic(2, hidden=4), torch.randn(4, 2), torch.randn(5, 2))


def test_clip_weights_refuses_a_bool():
    with pytest.raises(ValueError, match="positive number"):
        losses.clip_weights(torch.nn.Linear(2, 1), True)


# == audit: models =====================================================================================

def test_generator_refuses_z_of_the_wrong_shape():
    G = models.MLPGenerator(2, 2)
    for z in (torch.randn(4), torch.randn(4, 3)):
        with pytest.raises(ValueError, match=r"expects z of shape \[batch_size, 2\].*torch\.randn\(batch_size, 2\)"):
            G(z)


@pytest.mark.parametrize("z, match", [
    (torch.ones(4, 2, dtype=torch.long), r"float32 weights but z is torch\.int64: pass z\.float\(\)"),
    (torch.ones(4, 2, dtype=torch.float64), r"z is torch\.float64: pass z\.float\(\)"),
])
def test_generator_refuses_z_of_another_dtype(z, match):
    with pytest.raises(TypeError, match=match):
        models.MLPGenerator(2, 2)(z)


def test_discriminator_refuses_flat_or_channel_less_images_with_the_reshape():
    for D in (models.DCGANDiscriminator(4), models.MLPDiscriminator((1, 28, 28), hidden=4)):
        for x in (torch.randn(2, 28, 28), torch.randn(2, 784)):
            with pytest.raises(ValueError, match=r"expects x of shape \[batch_size, 1, 28, 28\].*"
                                                 r"x\.view\(-1, 1, 28, 28\)"):
                D(x)


def test_discriminator_refuses_uint8_images_with_the_conversion():
    with pytest.raises(TypeError, match=r"x is torch\.uint8: pass x\.float\(\) / 127\.5 - 1"):
        models.DCGANDiscriminator(4)(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))


def test_model_and_input_on_different_devices_name_both():
    G = models.MLPGenerator(2, 2, hidden=4).to("meta")  # stands in for a GPU: another device than z's
    with pytest.raises(ValueError, match=r"MLPGenerator is on meta but z is on cpu: move z with z\.to\(device\)"):
        G(torch.randn(3, 2))


@pytest.mark.parametrize("build, match", [
    (lambda: models.MLPGenerator(latent_dim=0), "latent_dim must be a whole number >= 1, got 0"),
    (lambda: models.MLPGenerator(latent_dim=2.5), "latent_dim must be a whole number >= 1, got 2.5"),
    (lambda: models.MLPGenerator(out_shape=0), "out_shape must be a whole number >= 1"),
    (lambda: models.DCGANGenerator(latent_dim=0), "DCGANGenerator: latent_dim must be"),
])
def test_models_refuse_a_latent_or_output_size_below_one(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize("build, match", [
    (lambda: models.MLPGenerator(hidden=-1), "MLPGenerator: hidden must be a whole number >= 1, got -1"),
    (lambda: models.MLPDiscriminator(hidden=0), "MLPDiscriminator: hidden must be a whole number >= 1, got 0"),
    (lambda: models.MLPCritic(layers=-1), "MLPCritic: layers must be a whole number >= 0, got -1"),
    (lambda: models.DCGANDiscriminator(width=0), "width must be a whole number >= 1"),
    (lambda: models.DCGANDiscriminator(batch_norm="no"), "batch_norm must be True or False"),
])
def test_models_refuse_negative_or_zero_sizes(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()


def test_models_keep_numpy_sizes_as_plain_ints():
    G = models.MLPGenerator(np.int64(3), np.int64(2), hidden=np.int64(8), layers=np.int64(1))
    assert G.config == dict(latent_dim=3, out_shape=[2], hidden=8, layers=1, tanh=False)
    assert all(type(v) is int for v in (G.config["hidden"], G.config["layers"]))


# == audit: train's data ===============================================================================

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device (a GPU)")
def test_data_on_another_device_than_the_models_is_moved():
    G, D = (m.to("cuda") for m in _pair())
    h = train.train(G, D, torch.randn(50, 2), 2, batch_size=8, progress=False)  # data on the CPU
    assert h.last_step == 2


def test_data_with_nan_is_refused_before_training():
    points = torch.randn(50, 2)
    points[3, 1] = float("nan")
    _refused(ValueError, r"data holds 1 NaN or infinite values \(of 100\).*torch\.isfinite", *_pair(), points)


def test_an_empty_tensor_is_refused():
    _refused(ValueError, r"data \(a torch\.float32 tensor of shape \[0, 2\]\) holds no examples", *_pair(),
             torch.zeros(0, 2))


def test_data_of_another_shape_than_G_makes_is_refused_naming_the_data():
    _refused(ValueError, r"data .* holds examples of shape \[3\], but G makes examples of shape \[2\]", *_pair(),
             torch.randn(20, 3))
    _refused(ValueError, r"holds examples of shape \[28, 28\], but G makes .*\[1, 28, 28\].*reshape\(-1, 1, 28, 28\)",
             *_image_pair(), torch.rand(20, 28, 28))


def test_data_of_another_dtype_is_refused():
    _refused(TypeError, r"torch\.float64 tensor.*dtype of G's weights, torch\.float32: pass data\.float\(\)",
             *_image_pair(), _images().double())
    _refused(TypeError, r"torch\.int64 tensor.*pass data\.float\(\)", *_pair(), torch.zeros(10, 2, dtype=torch.long))


def test_numpy_data_is_refused_with_the_conversion():
    _refused(TypeError, r"got ndarray\. Convert it with torch\.from_numpy\(data\)\.float\(\)", *_pair(),
             np.zeros((10, 2), np.float32))


def test_a_toy_of_another_dimension_than_G_is_refused():
    _refused(ValueError, r"samples of shape \[2\] but the data has dimension 1.*out_shape=1", *_pair(),
             toy.Gaussian1D())


def test_batch_size_larger_than_the_dataset_samples_with_replacement():
    G, D = _pair()
    h = train.train(G, D, torch.randn(5, 2), 3, batch_size=64, progress=False)
    assert h.last_step == 3


# == audit: train's other arguments ====================================================================

def test_k_that_is_not_whole_is_refused():
    _refused(ValueError, r"k \(discriminator steps per generator step\) must be an integer >= 1, got 1\.5",
             *_pair(), toy.Ring2D(), k=1.5)


@pytest.mark.parametrize("value", [0, -1, 1.5])
def test_record_every_below_one_is_refused(value):
    _refused(ValueError, rf"record_every \(steps between snapshots\) must be a whole number >= 1.*got {value}",
             *_pair(), toy.Ring2D(), record_every=value)


def test_record_every_beyond_steps_records_the_start_and_the_end():
    G, D = _pair()
    assert train.train(G, D, toy.Ring2D(), 7, record_every=100, progress=False).steps == [0, 7]


@pytest.mark.parametrize("value", [0, -5])
def test_n_fixed_below_one_is_refused(value):
    _refused(ValueError, r"n_fixed \(samples kept at each snapshot\) must be a whole number >= 1", *_pair(),
             toy.Ring2D(), n_fixed=value)


def test_a_callback_that_is_not_callable_is_refused():
    _refused(TypeError, r"callback must be a function, called as callback\(history\).*got int", *_pair(),
             toy.Ring2D(), callback=3)


@pytest.mark.parametrize("seed", ["0", 1.5])
def test_a_seed_that_is_not_whole_is_refused(seed):
    _refused(TypeError, r"seed must be a whole number such as 0", *_pair(), toy.Ring2D(), seed=seed)


def test_a_progress_string_is_refused():
    G, D = _pair()
    with pytest.raises(TypeError, match=r"progress must be True or False, got 'no'"):
        train.train(G, D, toy.Ring2D(), 3, progress="no")


def test_saturating_string_is_refused_by_train():
    _refused(TypeError, r"saturating must be True or False, got 'no'", *_pair(), toy.Ring2D(), saturating="no")


@pytest.mark.parametrize("lr, match", [("1e-3", "got '1e-3'"), (-1, "got -1"), (float("nan"), "got nan")])
def test_a_learning_rate_that_is_not_a_positive_number_is_refused(lr, match):
    _refused(ValueError, rf"lr must be a positive number such as 2e-4.*{match}", *_pair(), toy.Ring2D(), lr=lr)


def test_a_history_that_is_not_a_history_is_refused():
    _refused(TypeError, r"history must be the History of an earlier run.*got dict", *_pair(), toy.Ring2D(),
             history={"steps": []})


def test_an_interrupted_run_resumes_and_is_no_longer_marked_interrupted():
    G, D = _pair()
    opt_G, opt_D = train.make_optimizers(G, D)

    def stop(h):
        if h.last_step == 10:
            raise KeyboardInterrupt  # the learner presses "interrupt kernel"

    h = train.train(G, D, toy.Ring2D(), 30, record_every=5, callback=stop, opt_G=opt_G, opt_D=opt_D, progress=False)
    assert h.interrupted and h.last_step == 10
    h2 = train.train(G, D, toy.Ring2D(), 10, record_every=5, history=h, opt_G=opt_G, opt_D=opt_D, progress=False)
    assert h2 is h and h.steps == [0, 5, 10, 15, 20] and not h.interrupted


@pytest.mark.parametrize("order, match", [
    ("DG", r"G has no latent_dim .*Did you swap them\?"),
    ("GG", r"G and D are the same network"),
    ("DD", r"G and D are the same network"),
])
def test_swapped_or_repeated_models_are_refused(order, match):
    G, D = _pair()
    pick = {"G": G, "D": D}
    _refused(TypeError, match, pick[order[0]], pick[order[1]], toy.Ring2D())


def test_G_and_D_built_for_different_shapes_are_refused():
    _refused(ValueError, r"G makes examples of shape \[2\] but D takes examples of shape \[1\]",
             models.MLPGenerator(2, 2, hidden=4), models.MLPDiscriminator(1, hidden=4), toy.Ring2D())


def test_a_D_ending_in_a_sigmoid_is_refused():
    D = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1), torch.nn.Flatten(0),
                            torch.nn.Sigmoid())
    _refused(ValueError, r"D ends with a Sigmoid.*remove D's last nn\.Sigmoid\(\)", models.MLPGenerator(2, 2, hidden=4),
             D, toy.Ring2D())


def test_wgan_gp_with_a_batch_norm_D_is_refused():
    _refused(ValueError, r"loss='wgan-gp' with a D that uses batch norm.*DCGANCritic", models.DCGANGenerator(8, 4),
             models.DCGANDiscriminator(4), _images(), loss="wgan-gp", batch_size=8)
    h = train.train(models.DCGANGenerator(8, 4), models.DCGANCritic(4), _images(), 1, loss="wgan-gp", batch_size=8,
                    progress=False)
    assert h.last_step == 1


def test_models_left_in_eval_mode_train_in_training_mode():
    G, D = models.DCGANGenerator(8, 4), models.DCGANDiscriminator(4)
    G.eval(), D.eval()  # e.g. after sampling one image
    running = G.project[1].running_mean.clone()
    train.train(G, D, _images(), 1, batch_size=8, progress=False)
    assert G.training and D.training
    assert not torch.equal(G.project[1].running_mean, running), "batch norm must use and update batch statistics"


# == audit: speed ======================================================================================

def test_channels_last_on_models_without_convolutions_warns_that_it_does_nothing():
    G, D = _pair()
    with pytest.warns(UserWarning, match="no convolution: it does nothing here"):
        step = speed.fast_step(G, D, speed.Options(channels_last=True))
    assert train.train(G, D, toy.Ring2D(), 2, progress=False, step=step).last_step == 2


def test_a_fast_step_built_for_other_models_is_refused():
    G, D = _pair()
    step = speed.fast_step(*_pair(), speed.Options(reuse_fake=True))
    _refused(ValueError, r"fast step was built for other models.*fast_step\(G, D, options\)", G, D, toy.Ring2D(),
             step=step)
