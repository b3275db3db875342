"""Every numeric and choice field of a composed config, checked before any work is done.

The run's own keys (seed, optim, trainer, ...) have their rules here; a task or model class
keeps the rules of its parameters beside them (`rules`, `check`), and its config's `_target_`
brings them in. A bad value anywhere stops the run with one line that names the key, the
value and what is allowed.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from seqnets.errors import UserError

log = logging.getLogger(__name__)
ABSENT = object()


@dataclass(frozen=True)
class Rule:
    """`check(value)` must hold for `key` when the config has it; `allowed` says what does."""

    key: str
    check: Callable[[Any], bool]
    allowed: str


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def at_least(low: int) -> Callable[[Any], bool]:
    return lambda v: is_int(v) and v >= low


def lengths(v: Any) -> bool:
    """A list of distinct sequence lengths (each one a test set of its own)."""
    return isinstance(v, list | tuple) and all(at_least(1)(n) for n in v) and len(set(v)) == len(v)


def one_of(*choices: Any) -> Callable[[Any], bool]:
    return lambda v: any(v == c and type(v) is type(c) for c in choices)


# The run's own keys; the task's and the model's are their classes' (`target_class`).
RULES = [
    Rule("seed", lambda v: is_int(v) and 0 <= v < 2**32, "an integer in [0, 2**32)"),
    Rule("l2_penalty", lambda v: is_number(v) and v >= 0, "a number >= 0"),
    Rule("threads", lambda v: v is None or at_least(1)(v), "null or an integer >= 1"),
    Rule("optim.lr", lambda v: is_number(v) and v > 0, "a number > 0"),
    Rule("optim.weight_decay", lambda v: is_number(v) and v >= 0, "a number >= 0"),
    Rule("optim.momentum", lambda v: is_number(v) and v >= 0, "a number >= 0"),
    Rule("optim.fused", one_of(None, True, False), "true, false or null"),
    Rule("trainer.max_epochs", at_least(1), "an integer >= 1"),
    Rule(
        "trainer.gradient_clip_val",
        lambda v: v is None or (is_number(v) and v > 0),
        "null or a number > 0",
    ),
    Rule("trainer.log_every_n_steps", at_least(1), "an integer >= 1"),
    Rule("inspect_examples", at_least(0), "an integer >= 0"),
    Rule("ckpt_path", lambda v: v is None or Path(str(v)).is_file(), "null or a checkpoint file"),
    Rule("trainer.check_val_every_n_epoch", at_least(1), "an integer >= 1"),
]
# The groups whose `_target_` class brings its own rules.
CLASS_GROUPS = ("model", "task")


def on_cpu(trainer: Any) -> bool:
    accelerator = trainer.get("accelerator", "auto")
    return accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())


def bfloat16_cpu() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX), as oneDNN asks."""
    return torch.ops.mkldnn._is_mkldnn_bf16_supported()


def precision_fits(cfg: DictConfig) -> None:
    """bfloat16 on a CPU without it: oneDNN has no LSTM kernel for it, and torch emulates the
    other cells' bfloat16 several times slower than float32 (GRU-128: 7.8x on an AVX2 EPYC)."""
    trainer, model = cfg.get("trainer") or {}, cfg.get("model") or {}
    precision = str(trainer.get("precision"))
    if precision.startswith("bf16") and on_cpu(trainer) and not bfloat16_cpu():
        if model.get("cell") == "lstm":
            raise UserError(
                f"trainer.precision={precision}: this CPU has no native bfloat16 "
                f"({torch.backends.cpu.get_cpu_capability()}), so torch has no bfloat16 LSTM "
                "here; use trainer.precision=32-true"
            )
        log.warning(
            "trainer.precision=%s: this CPU has no native bfloat16, so it runs several times "
            "slower than 32-true",
            precision,
        )


def target_class(cfg: DictConfig, group: str) -> type | None:
    """The class that config group `group` names in `_target_`; None when it names none."""
    target = OmegaConf.select(cfg, f"{group}._target_", default=None)
    if target is None:
        return None
    try:
        return get_class(target)
    except (ImportError, ValueError) as err:
        raise UserError(f"{group}._target_={target!r}: cannot import that class ({err})") from None


def rules_of(cfg: DictConfig) -> list[Rule]:
    """Every rule that applies to `cfg`, keyed by its full path: the run's, then each class's."""
    grouped = [
        Rule(f"{group}.{rule.key}", rule.check, rule.allowed)
        for group in CLASS_GROUPS
        for rule in getattr(target_class(cfg, group), "rules", ())
    ]
    return [*RULES, *grouped]


def check_fields(cfg: DictConfig) -> None:
    """Raise UserError for the first field a rule refuses."""
    for rule in rules_of(cfg):
        value = OmegaConf.select(cfg, rule.key, default=ABSENT, throw_on_missing=False)
        if value is ABSENT:
            continue
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        if not rule.check(value):
            raise UserError(f"{rule.key}={value!r}: must be {rule.allowed}")


def validate(cfg: DictConfig) -> None:
    """Raise UserError for the first value a rule refuses, then for the first relation between
    a class's fields that fails (its `check`), then for a precision this machine lacks."""
    check_fields(cfg)
    for group in CLASS_GROUPS:
        checks = getattr(target_class(cfg, group), "check", None)
        if checks is not None:
            checks(cfg[group])
    precision_fits(cfg)
