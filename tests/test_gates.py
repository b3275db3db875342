import pytest
import torch
from torch import nn

from seqnets.errors import UserError
from seqnets.gates import unroll

LAYERS = [
    pytest.param(nn.RNN, {"nonlinearity": "tanh"}, id="rnn-tanh"),
    pytest.param(nn.RNN, {"nonlinearity": "relu"}, id="rnn-relu"),
    pytest.param(nn.LSTM, {}, id="lstm"),
    pytest.param(nn.GRU, {}, id="gru"),
]


@pytest.mark.parametrize("layer, extra", LAYERS)
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_the_unrolled_steps_match_torch(layer, extra, num_layers, bidirectional, bias) -> None:
    """Random weights and inputs: every hidden state (and LSTM cell state) as torch's."""
    torch.manual_seed(0)
    rnn = layer(5, 7, num_layers, bias=bias, batch_first=True, bidirectional=bidirectional, **extra)
    rnn.eval()
    x = torch.randn(4, 9, 5)
    with torch.no_grad():
        out, state = rnn(x)
        trace = unroll(rnn, x)
    h_n = state[0] if isinstance(state, tuple) else state
    torch.testing.assert_close(trace.output(), out, rtol=0, atol=1e-5)
    torch.testing.assert_close(trace.final(trace.hidden), h_n, rtol=0, atol=1e-5)
    if layer is nn.LSTM:
        torch.testing.assert_close(trace.final(trace.cell), state[1], rtol=0, atol=1e-5)
    names = {nn.RNN: set(), nn.LSTM: {"input", "forget", "output"}, nn.GRU: {"reset", "update"}}
    for gates in trace.gates.values():
        assert set(gates) == names[layer]
        for gate in gates.values():
            assert gate.shape == (4, 9, 7) and gate.min() >= 0 and gate.max() <= 1


def test_lstm_projections_are_refused_in_one_line() -> None:
    rnn = nn.LSTM(3, 6, proj_size=2, batch_first=True)
    with pytest.raises(UserError, match=r"^proj_size=2: LSTM projections cannot be unrolled"):
        unroll(rnn, torch.zeros(1, 2, 3))
