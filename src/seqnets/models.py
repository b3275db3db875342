"""The recurrent model zoo: torch's own RNN, LSTM and GRU (cuDNN on a GPU) behind one module."""

from typing import Any, Literal

import torch
from torch import nn

from seqnets.errors import UserError
from seqnets.validation import Rule, at_least, is_number, one_of

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentNet(nn.Module):
    """A batch-first recurrent stack with a linear head on its final state or on every step.

    `readout="last"` classifies a whole sequence from the final state of the top layer (both
    directions when bidirectional); `readout="every"` emits one prediction per time step.
    """

    # The rules of its parameters, checked under `model.` before a run starts.
    rules = (
        Rule("cell", one_of(*CELLS), "one of rnn, lstm, gru"),
        Rule("hidden_size", at_least(1), "an integer >= 1"),
        Rule("num_layers", at_least(1), "an integer >= 1"),
        Rule("dropout", lambda v: is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
        Rule("bias", one_of(True, False), "true or false"),
        Rule("bidirectional", one_of(True, False), "true or false"),
        Rule("nonlinearity", one_of(None, "tanh", "relu"), "one of tanh, relu (rnn only)"),
        Rule("init", one_of("default", "orthogonal"), "one of default, orthogonal"),
        Rule("readout", one_of("last", "every"), "one of last, every"),
    )

    @classmethod
    def check(cls, model: Any) -> None:
        """Only the vanilla RNN has a nonlinearity to choose."""
        if model.get("nonlinearity") is not None and model.get("cell") != "rnn":
            raise UserError(
                f"model.nonlinearity={model.nonlinearity!r}: only model.cell=rnn takes one "
                f"(this is {model.get('cell')}); leave it null"
            )

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_classes: int,
        num_layers: int,
        nonlinearity: str | None,
        bias: bool,
        dropout: float,
        bidirectional: bool,
        readout: Literal["last", "every"],
        init: Literal["default", "orthogonal"],
    ) -> None:
        super().__init__()
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
