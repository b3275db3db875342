import pytest
import torch
from conftest import built

from seqnets.models import CELLS


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("readout", ["last", "every"])
def test_output_shapes(cell: str, bidirectional: bool, num_layers: int, readout: str) -> None:
    net = built(
        "model",
        cell,
        input_size=5,
        hidden_size=7,
        num_classes=4,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=0.1 if num_layers > 1 else 0.0,
        readout=readout,
    )
    out = net(torch.randn(3, 11, 5))
    assert out.shape == ((3, 11, 4) if readout == "every" else (3, 4))
    assert net.head.in_features == 7 * (2 if bidirectional else 1)
    assert net.rnn.num_layers == num_layers and net.rnn.bidirectional == bidirectional


def test_last_head_reads_both_directions_final_states() -> None:
    """Forward direction ends at the last step, backward at the first: changing the middle of a
    sequence changes both, changing nothing changes nothing."""
    torch.manual_seed(0)
    net = built("model", "gru", input_size=2, hidden_size=3, num_classes=2, bidirectional=True)
    x = torch.randn(1, 6, 2)
    out, _ = net.rnn(x)
    expected = net.head(torch.cat([out[:, -1, :3], out[:, 0, 3:]], dim=-1))
    torch.testing.assert_close(net(x), expected)


def test_nonlinearity_reaches_the_rnn() -> None:
    net = built("model", "rnn", input_size=2, hidden_size=3, num_classes=2, nonlinearity="relu")
    assert net.rnn.nonlinearity == "relu"
    x = torch.randn(1, 4, 2)
    h = torch.relu(x[:, 0] @ net.rnn.weight_ih_l0.T + net.rnn.bias_ih_l0 + net.rnn.bias_hh_l0)
    torch.testing.assert_close(net.rnn(x[:, :1])[0][:, 0], h)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_orthogonal_init_makes_every_gate_block_orthogonal(cell: str) -> None:
    shape = {"input_size": 3, "hidden_size": 6, "num_classes": 2}
    net = built("model", cell, **shape, num_layers=2, bidirectional=True)
    blocks = [
        block
        for name, weight in net.rnn.named_parameters()
        if name.startswith("weight_hh")
        for block in weight.detach().split(6)
    ]
    assert len(blocks) == 2 * 2 * {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    for block in blocks:
        torch.testing.assert_close(block @ block.T, torch.eye(6), atol=1e-5, rtol=0)
    default = built("model", cell, **shape, init="default")
    block = default.rnn.weight_hh_l0.detach()[:6]
    assert not torch.allclose(block @ block.T, torch.eye(6), atol=1e-2)
