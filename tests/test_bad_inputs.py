"""Bad inputs that are not covered elsewhere, each with the message a learner needs."""
import pytest
import torch

from gan_lessons import losses, models, toy, train
from gan_lessons.history import History


def test_bce_rejects_logits_and_suggests_sigmoid():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*torch.sigmoid"):
        losses.bce(torch.tensor([2.5, -1.0]), torch.tensor([1.0, 0.0]))


def test_bce_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"shape \(4, 1\).*shape \(4,\).*squeeze"):
        losses.bce(torch.full((4, 1), 0.5), torch.ones(4))


def test_bce_rejects_bad_labels_and_empty_batch():
    with pytest.raises(ValueError, match="labels y in"):
        losses.bce(torch.tensor([0.5]), torch.tensor([2.0]))
    with pytest.raises(ValueError, match="empty batch"):
        losses.bce(torch.zeros(0), torch.zeros(0))


def test_generator_rejects_wrong_latent_size():
    G = models.MLPGenerator(64, (1, 28, 28), hidden=8)
    with pytest.raises(ValueError, match=r"expects z of shape \[batch_size, 64\], got \[5, 100\].*torch.randn"):
        G(torch.randn(5, 100))
    with pytest.raises(ValueError, match="expects z"):
        models.DCGANGenerator(32, 8)(torch.randn(2, 32, 1, 1))


def test_discriminator_rejects_wrong_image_shape():
    with pytest.raises(ValueError, match=r"expects x of shape \[batch_size, 1, 28, 28\], got \[2, 3, 32, 32\]"):
        models.DCGANDiscriminator(8)(torch.randn(2, 3, 32, 32))
    with pytest.raises(TypeError, match="expects a tensor"):
        models.MLPDiscriminator(2)([[0.0, 1.0]])


def test_train_rejects_bad_k_steps_batch_and_loss():
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    ring = toy.Ring2D()
    with pytest.raises(ValueError, match=r"k \(discriminator steps per generator step\) must be an integer >= 1"):
        train.train(G, D, ring, 10, k=0, progress=False)
    with pytest.raises(ValueError, match="steps must be a whole number"):
        train.train(G, D, ring, -1, progress=False)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        train.train(G, D, ring, 1, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="Unknown loss 'hinge'"):
        train.train(G, D, ring, 1, loss="hinge", progress=False)


def test_train_rejects_data_of_another_dimension():
    G, D = models.MLPGenerator(2, 1, hidden=8), models.MLPDiscriminator(1, hidden=8)
    with pytest.raises(ValueError, match="samples of shape \\[1\\] but the data has dimension 2"):
        train.train(G, D, toy.Ring2D(), 1, progress=False)
    with pytest.raises(TypeError, match="data must be a toy distribution"):
        train.train(G, D, [1, 2, 3], 1, progress=False)


def test_resume_without_optimizers_is_refused():
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    h = train.train(G, D, toy.Ring2D(), 2, progress=False)
    with pytest.raises(ValueError, match="pass the optimizers too"):
        train.train(G, D, toy.Ring2D(), 2, history=h, progress=False)


def test_clip_weights_rejects_non_positive_c():
    with pytest.raises(ValueError, match="positive number"):
        losses.clip_weights(torch.nn.Linear(2, 1), 0)


def test_empty_history_has_a_clear_message_for_viewers():
    with pytest.raises(ValueError, match="empty history.*Train for at least one step"):
        History("1d").require_snapshots("scrub")


def test_unknown_history_kind():
    with pytest.raises(ValueError, match="History kind must be one of"):
        History("3d")


def test_unknown_model_class_in_build():
    with pytest.raises(ValueError, match="Unknown model class 'ResNet'"):
        models.build("ResNet", {})
