"""Model shapes, output ranges and configs."""
import pytest
import torch

from gan_lessons import models


@pytest.mark.parametrize("latent_dim,out_shape", [(1, 1), (2, 2), (64, (1, 28, 28))])
def test_mlp_shapes(latent_dim, out_shape):
    G = models.MLPGenerator(latent_dim, out_shape, hidden=32)
    D = models.MLPDiscriminator(out_shape, hidden=32)
    x = G(torch.randn(5, latent_dim))
    shape = (out_shape,) if isinstance(out_shape, int) else out_shape
    assert x.shape == (5, *shape)
    assert D(x).shape == (5,)


def test_image_generators_output_in_minus1_1():
    for G in (models.MLPGenerator(16, (1, 28, 28), hidden=32), models.DCGANGenerator(16, width=8)):
        x = G(torch.randn(4, 16) * 10)
        assert x.shape == (4, 1, 28, 28) and x.min() >= -1 and x.max() <= 1


def test_dcgan_shapes_and_critic_has_no_batchnorm():
    G, D, C = models.DCGANGenerator(32, 16), models.DCGANDiscriminator(16), models.DCGANCritic(16)
    x = G(torch.randn(3, 32))
    assert D(x).shape == (3,) and C(x).shape == (3,)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in C.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())


def test_build_from_config_round_trip():
    G = models.DCGANGenerator(24, 8)
    G2 = models.build(type(G).__name__, G.config)
    G2.load_state_dict(G.state_dict())
    z = torch.randn(2, 24)
    G.eval(), G2.eval()
    assert torch.equal(G(z), G2(z))
