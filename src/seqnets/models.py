"""The recurrent model zoo: torch's own RNN, LSTM and GRU (cuDNN on a GPU) behind one module."""

from typing import Literal

import torch
from torch import nn

from seqnets.errors import UserError

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentNet(nn.Module):
    """A batch-first recurrent stack with a linear head on its final state or on every step.

    `readout="last"` classifies a whole sequence from the final state of the top layer (both
    directions when bidirectional); `readout="every"` emits one prediction per time step.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_classes: int,
        num_layers: int = 1,
        nonlinearity: str | None = None,
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        readout: Literal["last", "every"] = "last",
        init: Literal["default", "orthogonal"] = "default",
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise UserError(f"model.cell={cell!r}: expected one of {', '.join(sorted(CELLS))}")
        rnn_only = {} if nonlinearity is None else {"nonlinearity": nonlinearity}
        self.rnn = CELLS[cell](
            input_size,
            hidden_size,
            num_layers,
            bias=bias,
            batch_first=True,
            dropout=dropout,
            bidirectional=bidirectional,
            **rnn_only,
        )
        self.directions = 2 if bidirectional else 1
        self.every_step = readout == "every"
        self.head = nn.Linear(hidden_size * self.directions, num_classes)
        if init == "orthogonal":
            self.orthogonal_recurrence()

    def orthogonal_recurrence(self) -> None:
        """Orthogonal hidden-to-hidden weights, one block per gate: they neither blow up nor
        shrink the state at the start, so gradients reach early steps."""
        for name, weight in self.rnn.named_parameters():
            if name.startswith("weight_hh"):
                for block in weight.detach().split(self.rnn.hidden_size):
                    nn.init.orthogonal_(block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, features) -> logits (batch, classes), or (batch, time, classes)."""
        return self.read(x)[0]

    def read(
        self, x: torch.Tensor, steps: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The logits, and the top layer's states (batch, time, directions * hidden) at the
        step indices `steps` (every step when None): seqnets.inspect draws both from one pass."""
        out, state = self.rnn(x)
        kept = out if steps is None else out[:, steps]
        if self.every_step:
            return self.head(out), kept
        h_n = state[0] if isinstance(state, tuple) else state
        final = h_n[-self.directions :].transpose(0, 1).flatten(1)
        return self.head(final), kept
