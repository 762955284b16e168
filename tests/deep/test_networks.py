"""Network shapes, the masked multitask loss against hand-computed values, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hccrad.core.errors import ModelError
from hccrad.deep.networks import ARCHITECTURES, Task, build_network, multitask_loss
from hccrad.testing import assert_close

TASKS = (Task("response", 2), Task("mtm", 2), Task("os", 4))


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("dims,shape", [(3, (2, 2, 16, 16, 16)), (2, (2, 2, 32, 32))])
def test_output_and_feature_shapes(arch, dims, shape):
    torch.manual_seed(0)
    net = build_network(arch, 2, TASKS, spatial_dims=dims, width=4)
    x = torch.randn(shape)
    out = net(x)
    assert {k: tuple(v.shape) for k, v in out.items()} == {"response": (2, 2), "mtm": (2, 2), "os": (2, 4)}
    f = net.embed(x)
    assert f.shape == (2, net.backbone.n_features)
    acts = {}
    net.cam_layer.register_forward_hook(lambda m, i, o: acts.__setitem__("a", o))
    net(x)
    assert acts["a"].ndim == dims + 2


def test_same_seed_same_initial_weights():
    w = []
    for _ in range(2):
        torch.manual_seed(7)
        w.append(build_network("mobilenet", 3, TASKS[:1], spatial_dims=3, width=4).state_dict())
    assert all(torch.equal(a, b) for a, b in zip(w[0].values(), w[1].values()))


def test_masked_multitask_loss_matches_hand_computation():
    logits = {"response": torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.5, 0.5]]),
              "os": torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0], [0.0, 1.0, 2.0, 3.0]])}
    y = {"response": torch.tensor([1, -1, 0]), "os": torch.tensor([-1, 2, 3])}

    def ce(z, k):
        return -(z[k] - math.log(sum(math.exp(v) for v in z)))

    resp = (ce([0.0, 1.0], 1) + ce([0.5, 0.5], 0)) / 2          # item 2 missing
    os_ = (ce([0.0, 0.0, 3.0, 0.0], 2) + ce([0.0, 1.0, 2.0, 3.0], 3)) / 2  # item 1 missing
    total, parts = multitask_loss(logits, y, {"response": 1.0, "os": 0.5})
    assert_close(float(total), resp + 0.5 * os_, rtol=1e-6, atol=0, what="weighted multitask loss")
    assert_close([parts["response"], parts["os"]], [resp, os_], rtol=1e-6, atol=0, what="per-task losses")


def test_loss_with_no_known_label_adds_nothing_and_keeps_the_graph():
    z = torch.randn(2, 2, requires_grad=True)
    total, parts = multitask_loss({"mtm": z}, {"mtm": torch.tensor([-1, -1])})
    assert float(total.detach()) == 0.0 and math.isnan(parts["mtm"])
    total.backward()
    assert np.allclose(z.grad.numpy(), 0.0)
    w = torch.randn(2, 2, requires_grad=True)
    total, _ = multitask_loss({"mtm": z, "r": w}, {"mtm": torch.tensor([-1, -1]), "r": torch.tensor([0, 1])})
    ref = float(torch.nn.functional.cross_entropy(w.detach(), torch.tensor([0, 1])))
    assert_close(float(total.detach()), ref, rtol=1e-6, atol=0, what="loss of the only labelled task")


def test_errors():
    with pytest.raises(ModelError, match="unknown architecture"):
        build_network("vgg", 1, TASKS)
    with pytest.raises(ModelError, match="duplicate"):
        build_network("resnet", 1, (Task("a"), Task("a")))
    net = build_network("resnet", 1, TASKS[:1], spatial_dims=3, width=4)
    with pytest.raises(ModelError, match="3-D inputs"):
        net(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ModelError, match="no targets"):
        multitask_loss({"x": torch.zeros(1, 2)}, {})
