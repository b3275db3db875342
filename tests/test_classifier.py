import pytest
import torch
from conftest import option_values
from omegaconf import OmegaConf

from seqnets.classifier import SequenceClassifier
from seqnets.errors import find_user_error
from seqnets.validation import validate

MODEL = option_values("model", "gru", input_size=3, hidden_size=4, num_classes=2)
LOSS = {"_target_": "torch.nn.CrossEntropyLoss"}


def classifier(l2: float = 0.0, scheduler: dict | None = None, **model) -> SequenceClassifier:
    optim = {"_target_": "torch.optim.Adam", "lr": 0.01}
    return SequenceClassifier(
        model=MODEL | model, optim=optim, loss=LOSS, scheduler=scheduler, l2_penalty=l2
    )


def test_l2_penalty_adds_lambda_times_squared_weights() -> None:
    torch.manual_seed(0)
    batch = (torch.randn(5, 7, 3), torch.randint(0, 2, (5,)))
    plain, penalised = classifier(), classifier(l2=0.5)
    penalised.load_state_dict(plain.state_dict())
    weights = sum(p.pow(2).sum() for n, p in plain.net.named_parameters() if "weight" in n)
    biases = sum(p.pow(2).sum() for n, p in plain.net.named_parameters() if "bias" in n)
    assert biases > 0
    expected = plain.training_step(batch, 0) + 0.5 * weights
    torch.testing.assert_close(penalised.training_step(batch, 0), expected)


def test_every_step_head_is_scored_per_step() -> None:
    torch.manual_seed(0)
    module = classifier(readout="every")
    x, y = torch.randn(2, 6, 3), torch.randint(0, 2, (2, 6))
    loss = module.training_step((x, y), 0)
    logits = module.net(x)
    torch.testing.assert_close(
        loss, torch.nn.functional.cross_entropy(logits.reshape(-1, 2), y.reshape(-1))
    )


def test_optimizer_and_scheduler_come_from_config() -> None:
    module = classifier(l2=0.1)
    optimizer = module.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["lr"] == 0.01
    assert "l2_penalty" not in optimizer.defaults
    cosine = {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR", "T_max": 5}
    configured = classifier(scheduler=cosine).configure_optimizers()
    assert isinstance(configured["lr_scheduler"], torch.optim.lr_scheduler.CosineAnnealingLR)


def test_unknown_cell_is_refused_by_name() -> None:
    with pytest.raises(Exception) as err:
        validate(OmegaConf.create({"model": MODEL | {"cell": "transformer"}}))
    assert (
        str(find_user_error(err.value)) == "model.cell='transformer': must be one of rnn, lstm, gru"
    )
