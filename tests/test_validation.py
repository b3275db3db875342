from pathlib import Path

import pytest
from conftest import compose_train
from hydra.errors import HydraException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from test_config import GROUPS

from seqnets.errors import UserError, find_user_error
from seqnets.runs import build
from seqnets.validation import rules_of, validate


def recall_cfg(**task) -> OmegaConf:
    recall = {"_target_": "seqnets.tasks.recall.Recall", "k": 2, "min_len": 3, "max_len": 10}
    return OmegaConf.create({"task": recall | task})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.hidden_size=0", "model.hidden_size=0: must be an integer >= 1"),
        ("model.num_layers=-1", "model.num_layers=-1: must be an integer >= 1"),
        ("model.dropout=1.0", "model.dropout=1.0: must be a number in [0, 1)"),
        (
            "model=rnn model.nonlinearity=sigmoid",
            "model.nonlinearity='sigmoid': must be one of tanh, relu (rnn only)",
        ),
        ("optim.lr=0", "optim.lr=0: must be a number > 0"),
        ("l2_penalty=-0.1", "l2_penalty=-0.1: must be a number >= 0"),
        ("task.batch_size=0", "task.batch_size=0: must be an integer >= 1"),
        ("task.batch_size=ten", "task.batch_size='ten': must be an integer >= 1"),
        ("task=adder task.bits=0", "task.bits=0: must be an integer >= 1"),
        (
            "task=adder task.test_bits=[8,0]",
            "task.test_bits=[8, 0]: must be a non-empty list of distinct integers >= 1",
        ),
        ("task=recall task.k=4", "task.k=4: must be between 1 and task.min_len=3"),
        ("task=recall task.k=0", "task.k=0: must be an integer >= 1"),
        (
            "task=recall task.min_len=5 task.max_len=4",
            "task.min_len=5 > task.max_len=4: need min_len <= max_len",
        ),
        (
            "task=recall task.extra_test_lens=[0]",
            "task.extra_test_lens=[0]: must be a list of distinct integers >= 1",
        ),
        ("trainer.max_epochs=0", "trainer.max_epochs=0: must be an integer >= 1"),
        ("threads=0", "threads=0: must be null or an integer >= 1"),
        (
            "task.val_size=1.5",
            "task.val_size=1.5: must be an integer >= 1, or a share in (0, 1) of an image "
            "task's training files",
        ),
        (
            "task=recall task.val_size=0.5",
            "task.val_size=0.5: recall draws its validation sets, so it takes a number of "
            "sequences per length, an integer >= 1",
        ),
        (
            "model=lstm model.nonlinearity=relu",
            "model.nonlinearity='relu': only model.cell=rnn takes one "
            "(this is lstm); leave it null",
        ),
        ("task.num_classes=1", "task.num_classes=1: must be an integer >= 2"),
        (
            "task=recall task.extra_test_lens=[1]",
            "task.extra_test_lens=[1]: every length must be >= task.k=2",
        ),
        (
            "task=adder task.test_bits=[8,8]",
            "task.test_bits=[8, 8]: must be a non-empty list of distinct integers >= 1",
        ),
        ("ckpt_path=/nowhere.ckpt", "ckpt_path='/nowhere.ckpt': must be null or a checkpoint file"),
        ("seed=-1", "seed=-1: must be an integer in [0, 2**32)"),
        ("task.order=spiral", "task.order='spiral': must be one of row, pixel, permuted"),
        (
            "task.order=pixel",
            "task.input_size=28: task.order=pixel feeds one pixel per step, so it must be 1 "
            "(task=smnist and task=psmnist set it)",
        ),
        (
            "task=smnist task.input_size=28",
            "task.input_size=28: task.order=pixel feeds one pixel per step, so it must be 1 "
            "(task=smnist and task=psmnist set it)",
        ),
        (
            "task=psmnist task.permutation_seed=-3",
            "task.permutation_seed=-3: must be an integer >= 0",
        ),
        ("optim.fused=yes", "optim.fused='yes': must be true, false or null"),
    ],
)
def test_a_bad_value_is_named_with_what_is_allowed(
    compose_cfg, override: str, message: str
) -> None:
    with pytest.raises(UserError) as err:
        validate(compose_cfg(*override.split()))
    assert str(err.value) == message


def test_every_option_of_the_shipped_config_passes(compose_cfg) -> None:
    for group, options in GROUPS.items():
        for option in options:
            validate(compose_cfg(f"{group}={option}"))
    for task in GROUPS["task"]:
        for model in GROUPS["model"]:
            validate(compose_cfg(f"task={task}", f"model={model}"))


@given(k=st.integers(-3, 12), min_len=st.integers(-2, 12), max_len=st.integers(-2, 12))
def test_recall_needs_k_within_min_len_within_max_len(k: int, min_len: int, max_len: int) -> None:
    cfg = recall_cfg(k=k, min_len=min_len, max_len=max_len)
    if 1 <= k <= min_len <= max_len:
        validate(cfg)
        return
    with pytest.raises(UserError, match=r"^task\.(k|min_len|max_len)="):
        validate(cfg)


# Every key a rule checks, for any of the shipped tasks.
RULE_KEYS = sorted(
    {rule.key for task in GROUPS["task"] for rule in rules_of(compose_train(f"task={task}"))}
)
VALUES = st.one_of(
    st.integers(-5, 300),
    st.floats(-2, 2, allow_nan=False),
    st.booleans(),
    st.none(),
    st.sampled_from(["abc", "tanh", "relu", "every", "orthogonal"]),
    st.lists(st.integers(-2, 40), max_size=3),
)


def hydra_literal(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list):
        return "[" + ",".join(map(str, value)) + "]"
    return repr(value)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    task=st.sampled_from(["mnist", "recall", "adder"]),
    key=st.sampled_from(RULE_KEYS),
    value=VALUES,
)
def test_fuzzed_fields_start_cleanly_or_fail_in_one_line(
    compose_cfg, tmp_path: Path, task, key, value
):
    """Whatever lands in a field, the run either builds or stops with one named line."""
    try:
        cfg = compose_cfg(f"task={task}", f"{key}={hydra_literal(value)}", f"output_dir={tmp_path}")
    except HydraException:
        return  # Hydra's own message for a value its grammar or the schema refuses
    try:
        validate(cfg)
        build(cfg)
    except Exception as err:  # noqa: BLE001 - what matters is which kind it is
        cause = find_user_error(err)
        assert cause is not None, f"{key}={value!r} raised {err!r}"
        assert "\n" not in str(cause) and str(cause).startswith(key.split(".")[0])
