from pathlib import Path

import pytest
from conftest import CONF_DIR
from hydra.errors import ConfigCompositionException, MissingConfigException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from seqnets.models import RecurrentNet

GROUPS = {
    group.name: sorted(p.stem for p in group.glob("*.yaml"))
    for group in sorted(CONF_DIR.iterdir())
    if group.is_dir() and group.name != "hydra"
}
OPTIONS = [(group, option) for group, options in GROUPS.items() for option in options]


def test_groups_the_issue_names_are_there() -> None:
    assert {"mnist", "fashion_mnist"} <= set(GROUPS["task"])
    assert {"rnn", "lstm", "gru", "birnn", "bilstm", "bigru"} <= set(GROUPS["model"])
    assert {"adam", "sgd"} <= set(GROUPS["optim"])
    assert {"default", "cpu", "gpu", "ddp"} <= set(GROUPS["trainer"])
    assert {"tensorboard", "csv", "none"} <= set(GROUPS["logger"])
    assert "fast" in GROUPS["debug"]


@pytest.mark.parametrize(("group", "option"), OPTIONS)
def test_every_option_composes_and_resolves(
    compose_cfg, group: str, option: str, tmp_path: Path
) -> None:
    cfg = compose_cfg(f"{group}={option}", f"output_dir={tmp_path}")
    resolved = OmegaConf.to_container(
        OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True
    )
    assert resolved["model"]["input_size"] == resolved["task"]["input_size"]


@pytest.mark.parametrize("option", GROUPS["model"])
def test_every_model_option_builds(compose_cfg, option: str) -> None:
    cfg = compose_cfg(f"model={option}")
    net = instantiate(cfg.model)
    assert isinstance(net, RecurrentNet)
    assert net.rnn.mode.lower().startswith(cfg.model.cell)
    assert net.rnn.bidirectional == option.startswith("bi")
    assert net.rnn.input_size == cfg.task.input_size == 28
    assert net.rnn.hidden_size == 128


def test_defaults_follow_the_reference_experiment(compose_cfg) -> None:
    cfg = compose_cfg()
    assert cfg.optim.lr == 0.002 and cfg.optim.l2_penalty == 0.0
    assert cfg.model.hidden_size == 128 and cfg.model.num_layers == 1
    assert cfg.task.batch_size == 100 and cfg.trainer.max_epochs == 5


def test_unknown_option_fails_with_hydras_message(compose_cfg) -> None:
    with pytest.raises(MissingConfigException, match="model/transformer"):
        compose_cfg("model=transformer")


def test_unknown_key_fails_with_hydras_message(compose_cfg) -> None:
    with pytest.raises(ConfigCompositionException, match="hiden_size"):
        compose_cfg("model.hiden_size=3")
