"""torch's recurrent layers, unrolled one step at a time from their own weights: nn.RNN, LSTM
and GRU return only hidden states, and to see when a cell keeps or overwrites its state we
need its gates at every step. The step equations are torch's (see the nn.LSTM and nn.GRU
docs); tests check the unrolled states against torch's own to 1e-5 for every cell."""

from dataclasses import dataclass, field

import torch
from torch import nn

from seqnets.errors import UserError

# The sigmoid gates of the gated cells, as torch's modes name them (the third block of LSTM's
# and GRU's weights is the candidate state, not a gate); RNN_TANH and RNN_RELU have none.
GATES: dict[str, tuple[str, ...]] = {
    "LSTM": ("input", "forget", "output"),
    "GRU": ("reset", "update"),
}
Key = tuple[int, int]  # (layer, direction): direction 1 reads the sequence backwards


@dataclass
class Trace:
    """Per-step values of every layer and direction, each (batch, time, hidden), in the
    sequence's own order for both directions."""

    hidden: dict[Key, torch.Tensor] = field(default_factory=dict)
    cell: dict[Key, torch.Tensor] = field(default_factory=dict)  # LSTM only
    gates: dict[Key, dict[str, torch.Tensor]] = field(default_factory=dict)

    def output(self) -> torch.Tensor:
        """The top layer's states, both directions side by side: torch's `output`."""
        top = max(layer for layer, _ in self.hidden)
        return torch.cat([h for (layer, _), h in sorted(self.hidden.items()) if layer == top], -1)

    def final(self, states: dict[Key, torch.Tensor]) -> torch.Tensor:
        """Each layer's and direction's last state, (layers * directions, batch, hidden), as
        torch's `h_n` (or `c_n` from the cell states): a backward pass ends at step 0."""
        return torch.stack([s[:, -1 if d == 0 else 0] for (_, d), s in sorted(states.items())])


def step(
    kind: str, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, weights: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """One step of one cell: the new hidden and cell states (c unchanged but for LSTM) and the
    gates, from the input-to-hidden and hidden-to-hidden weights and biases."""
    w_ih, w_hh, *biases = weights
    b_ih, b_hh = biases or (0.0, 0.0)
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if kind == "LSTM":
        i, f, g, o = (gi + gh).chunk(4, -1)
        i, f, o = i.sigmoid(), f.sigmoid(), o.sigmoid()
        c = f * c + i * g.tanh()
        return o * c.tanh(), c, {"input": i, "forget": f, "output": o}
    if kind == "GRU":
        (i_r, i_z, i_n), (h_r, h_z, h_n) = gi.chunk(3, -1), gh.chunk(3, -1)
        r, z = (i_r + h_r).sigmoid(), (i_z + h_z).sigmoid()
        n = (i_n + r * h_n).tanh()
        return (1 - z) * n + z * h, c, {"reset": r, "update": z}
    return (gi + gh).tanh() if kind == "RNN_TANH" else (gi + gh).relu(), c, {}


def cell_kind(rnn: nn.RNNBase) -> str:
    """torch's mode (RNN_TANH, RNN_RELU, LSTM, GRU); LSTM projections are refused, since the
    step above does not project."""
    if getattr(rnn, "proj_size", 0):
        raise UserError(
            f"proj_size={rnn.proj_size}: LSTM projections cannot be unrolled to show gates"
        )
    return rnn.mode


def in_order(steps: list[torch.Tensor], backward: bool) -> torch.Tensor:
    """Per-step values stacked on dim 1 in the sequence's order, whichever way they were read."""
    stacked = torch.stack(steps, 1)
    return stacked.flip(1) if backward else stacked


def unroll_direction(
    rnn: nn.RNNBase, kind: str, inputs: torch.Tensor, key: Key, trace: Trace
) -> None:
    """One layer in one direction over inputs (batch, time, features), from zero states."""
    layer, backward = key
    suffix = f"_l{layer}" + ("_reverse" if backward else "")
    weights = [w for name, w in rnn.named_parameters() if name.endswith(suffix)]
    seq = inputs.flip(1) if backward else inputs
    h = seq.new_zeros(len(seq), rnn.hidden_size)
    c = torch.zeros_like(h)
    hs, cs, gates = [], [], []
    for t in range(seq.shape[1]):
        h, c, g = step(kind, seq[:, t], h, c, weights)
        hs.append(h)
        cs.append(c)
        gates.append(g)
    trace.hidden[key] = in_order(hs, bool(backward))
    if kind == "LSTM":
        trace.cell[key] = in_order(cs, bool(backward))
    names = GATES.get(kind, ())
    trace.gates[key] = {n: in_order([g[n] for g in gates], bool(backward)) for n in names}


def unroll(rnn: nn.RNNBase, x: torch.Tensor) -> Trace:
    """Run a batch-first layer stack over x (batch, time, features) step by step from zero
    states, as the stack does in eval mode (no dropout between layers)."""
    kind, trace = cell_kind(rnn), Trace()
    directions = range(2 if rnn.bidirectional else 1)
    inputs = x
    for layer in range(rnn.num_layers):
        for direction in directions:
            unroll_direction(rnn, kind, inputs, (layer, direction), trace)
        inputs = torch.cat([trace.hidden[(layer, d)] for d in directions], -1)
    return trace
