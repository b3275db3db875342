import itertools
from pathlib import Path

import pytest
from conftest import CONF_DIR, compose_train
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep
from hydra.errors import ConfigCompositionException, MissingConfigException
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import OmegaConf

from seqnets.models import RecurrentNet
from seqnets.validation import validate

GROUPS = {
    group.name: sorted(p.stem for p in group.glob("*.yaml"))
    for group in sorted(CONF_DIR.iterdir())
    if group.is_dir() and group.name not in ("hydra", "tuned", "__pycache__")
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


def test_defaults_keep_the_reference_experiments_shape(compose_cfg) -> None:
    cfg = compose_cfg()
    assert cfg.l2_penalty == 0.0
    assert cfg.model.hidden_size == 128 and cfg.model.num_layers == 1
    assert cfg.task.batch_size == 100 and cfg.trainer.max_epochs == 5


# What the plain commands compose to: the task's settings, then the cell's on that task.
TUNED = [
    (["model=lstm"], {"optim.lr": 0.005, "task.normalize": True}),
    (["model=bilstm"], {"optim.lr": 0.005, "task.normalize": True}),
    (["model=rnn"], {"task.batch_size": 50, "task.normalize": False, "optim.lr": 0.002}),
    (["model=birnn"], {"optim.lr": 0.002, "task.normalize": False}),
    (["task=fashion_mnist", "model=gru"], {"optim.lr": 0.005, "task.normalize": True}),
    (["task=fashion_mnist", "model=rnn"], {"optim.lr": 0.002, "task.normalize": False}),
    (["task=recall", "model=gru"], {"callbacks.checkpoint.monitor": "val/loss"}),
    (["task=adder", "model=rnn"], {"callbacks.early_stopping.stopping_threshold": 0.003}),
    (["task=adder", "loss=mse"], {"callbacks.early_stopping.stopping_threshold": 0.00003}),
    (["task=recall", "model=rnn"], {"optim.lr": 0.01, "trainer.max_epochs": 50}),
    (["task=psmnist", "model=lstm"], {"optim.lr": 0.002, "task.normalize": False}),
]


@pytest.mark.parametrize(("overrides", "expected"), TUNED, ids=lambda v: " ".join(v))
def test_plain_commands_bring_the_tasks_settings(compose_cfg, overrides, expected) -> None:
    cfg = compose_cfg(*overrides)
    assert {key: OmegaConf.select(cfg, key) for key in expected} == expected


def test_the_command_line_wins_over_the_tasks_settings(compose_cfg) -> None:
    cfg = compose_cfg("task=recall", "model=rnn", "optim.lr=0.5", "debug=fast")
    assert cfg.optim.lr == 0.5 and cfg.trainer.max_epochs == 1


@pytest.mark.parametrize("path", sorted((CONF_DIR / "tuned").glob("*/*.yaml")), ids=str)
def test_every_tuned_file_names_a_task_and_a_model(path: Path) -> None:
    """A misspelt name would never be chosen: the defaults list takes these as optional."""
    kind = {"task": "task", "cell": "model", "loss": "loss"}[path.parent.name]
    names = (
        GROUPS[kind]
        if kind == "task"
        else [f"{t}_{o}" for t in GROUPS["task"] for o in GROUPS[kind]]
    )
    assert path.stem in names


def test_unknown_option_fails_with_hydras_message(compose_cfg) -> None:
    with pytest.raises(MissingConfigException, match="model/transformer"):
        compose_cfg("model=transformer")


def test_unknown_key_fails_with_hydras_message(compose_cfg) -> None:
    with pytest.raises(ConfigCompositionException, match="hiden_size"):
        compose_cfg("model.hiden_size=3")


def preset_jobs() -> list[list[str]]:
    """Every job of every preset in conf/experiment/, as the overrides Hydra's basic sweeper
    gives it (the product of the swept values)."""
    jobs = []
    for path in sorted(CONF_DIR.glob("experiment/**/*.yaml")):
        name = path.relative_to(CONF_DIR / "experiment").with_suffix("").as_posix()
        params = OmegaConf.load(path).get("hydra", {}).get("sweeper", {}).get("params", {})
        swept = [[f"{key}={v}" for v in str(values).split(",")] for key, values in params.items()]
        jobs += [[f"experiment={name}", *combo] for combo in itertools.product(*swept)]
    return jobs


@pytest.mark.parametrize("overrides", preset_jobs(), ids=" ".join)
def test_every_preset_job_composes_to_a_valid_config(overrides: list[str]) -> None:
    cfg = compose_train(*overrides, hydra=True)
    validate(cfg)
    for override in overrides[1:]:
        key, value = override.split("=")
        chosen = cfg.hydra.runtime.choices[key] if key in GROUPS else OmegaConf.select(cfg, key)
        assert str(chosen) == value


def search_points() -> list[list[str]]:
    """Every preset in conf/hparams_search/ with each searched key at each end of its space
    (every choice, an interval's bounds), one key at a time."""
    parser = OverridesParser.create()
    points = []
    for path in sorted(CONF_DIR.glob("hparams_search/*.yaml")):
        for key, space in OmegaConf.load(path).hydra.sweeper.params.items():
            sweep = parser.parse_override(f"{key}={space}").value()
            values = sweep.list if isinstance(sweep, ChoiceSweep) else [sweep.start, sweep.end]
            points += [[f"hparams_search={path.stem}", f"{key}={value}"] for value in values]
    return points


@pytest.mark.parametrize("overrides", search_points(), ids=" ".join)
def test_every_search_preset_is_valid_across_its_space(overrides: list[str]) -> None:
    cfg = compose_train(*overrides, hydra=True)
    validate(cfg)
    key, value = overrides[1].split("=")
    assert str(OmegaConf.select(cfg, key)) == value


# The score each search optimises is the one its task's checkpoint is chosen by, whichever
# task a preset is given.
SEARCHES = [
    (["hparams_search=mnist_optuna"], "mnist", "val/acc", "maximize"),
    (["hparams_search=mnist_optuna", "task=fashion_mnist"], "fashion_mnist", "val/acc", "maximize"),
    (["hparams_search=mnist_optuna", "task=recall"], "recall", "val/loss", "minimize"),
    (["hparams_search=recall_optuna"], "recall", "val/loss", "minimize"),
    (["hparams_search=adder_optuna"], "adder", "val/loss", "minimize"),
]


@pytest.mark.parametrize(("overrides", "task", "monitor", "direction"), SEARCHES, ids=str)
def test_a_search_optimises_what_its_checkpoint_is_chosen_by(
    overrides: list[str], task: str, monitor: str, direction: str
) -> None:
    cfg = compose_train(*overrides, hydra=True)
    assert (cfg.task.name, cfg.callbacks.checkpoint.monitor) == (task, monitor)
    assert cfg.hydra.sweeper.direction == direction
    assert cfg.hydra.mode == RunMode.MULTIRUN
    assert cfg.hydra.sweeper.sampler.seed is not None and cfg.hydra.sweeper.n_trials >= 10
