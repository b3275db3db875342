"""Every numeric and choice field of a composed config, checked before any work is done.

One table of rules, so a bad value anywhere stops the run with one line that names the
key, the value and what is allowed.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
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


RULES = [
    Rule("seed", lambda v: is_int(v) and 0 <= v < 2**32, "an integer in [0, 2**32)"),
    Rule("l2_penalty", lambda v: is_number(v) and v >= 0, "a number >= 0"),
    Rule("threads", lambda v: v is None or at_least(1)(v), "null or an integer >= 1"),
    Rule("model.cell", one_of("rnn", "lstm", "gru"), "one of rnn, lstm, gru"),
    Rule("model.hidden_size", at_least(1), "an integer >= 1"),
    Rule("model.num_layers", at_least(1), "an integer >= 1"),
    Rule("model.dropout", lambda v: is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    Rule("model.bias", one_of(True, False), "true or false"),
    Rule("model.bidirectional", one_of(True, False), "true or false"),
    Rule("model.nonlinearity", one_of(None, "tanh", "relu"), "one of tanh, relu (rnn only)"),
    Rule("model.init", one_of("default", "orthogonal"), "one of default, orthogonal"),
    Rule("model.head", one_of("last", "every"), "one of last, every"),
    Rule("optim.lr", lambda v: is_number(v) and v > 0, "a number > 0"),
    Rule("optim.weight_decay", lambda v: is_number(v) and v >= 0, "a number >= 0"),
    Rule("optim.momentum", lambda v: is_number(v) and v >= 0, "a number >= 0"),
    Rule("optim.fused", one_of(None, True, False), "true, false or null"),
    Rule("task.input_size", at_least(1), "an integer >= 1"),
    Rule("task.num_classes", at_least(2), "an integer >= 2"),
    Rule("task.batch_size", at_least(1), "an integer >= 1"),
    Rule("task.eval_batch_size", at_least(1), "an integer >= 1"),
    Rule(
        "task.val_size",
        lambda v: at_least(1)(v) or (isinstance(v, float) and 0 < v < 1),
        "an integer >= 1, or a share in (0, 1) of an image task's training files",
    ),
    Rule("task.train_size", at_least(1), "an integer >= 1"),
    Rule("task.test_size", at_least(1), "an integer >= 1"),
    Rule("task.num_examples", at_least(1), "an integer >= 1"),
    Rule("task.k", at_least(1), "an integer >= 1"),
    Rule("task.min_len", at_least(1), "an integer >= 1"),
    Rule("task.max_len", at_least(1), "an integer >= 1"),
    Rule("task.extra_test_lens", lengths, "a list of distinct integers >= 1"),
    Rule("task.bits", at_least(1), "an integer >= 1"),
    Rule(
        "task.test_bits",
        lambda v: lengths(v) and len(v) > 0,
        "a non-empty list of distinct integers >= 1",
    ),
    Rule("task.random_lengths", one_of(True, False), "true or false"),
    Rule("task.normalize", one_of(True, False), "true or false"),
    Rule("task.order", one_of("row", "pixel", "permuted"), "one of row, pixel, permuted"),
    Rule("task.permutation_seed", at_least(0), "an integer >= 0"),
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


def relations(cfg: DictConfig) -> None:
    """Rules between fields: recall needs k <= min_len <= max_len and every extra test length
    >= k; pixel orders feed one input per step; only the vanilla RNN has a nonlinearity to
    choose."""
    task, model = cfg.get("task") or {}, cfg.get("model") or {}
    if "dataset" not in task and isinstance(task.get("val_size"), float):
        raise UserError(
            f"task.val_size={task.val_size}: {task.get('name')} draws its validation sets, so "
            "it takes a number of sequences per length, an integer >= 1"
        )
    if "min_len" in task and task.min_len > task.max_len:
        raise UserError(
            f"task.min_len={task.min_len} > task.max_len={task.max_len}: need min_len <= max_len"
        )
    if "k" in task and task.k > task.min_len:
        raise UserError(f"task.k={task.k}: must be between 1 and task.min_len={task.min_len}")
    if "k" in task and any(n < task.k for n in task.get("extra_test_lens", [])):
        raise UserError(
            f"task.extra_test_lens={list(task.extra_test_lens)}: every length must be "
            f">= task.k={task.k}"
        )
    if task.get("order", "row") != "row" and task.input_size != 1:
        raise UserError(
            f"task.input_size={task.input_size}: task.order={task.order} feeds one pixel per "
            "step, so it must be 1 (task=smnist and task=psmnist set it)"
        )
    if model.get("nonlinearity") is not None and model.get("cell") != "rnn":
        raise UserError(
            f"model.nonlinearity={model.nonlinearity!r}: only model.cell=rnn takes one "
            f"(this is {model.get('cell')}); leave it null"
        )


def validate(cfg: DictConfig) -> None:
    """Raise UserError for the first value a rule refuses."""
    for rule in RULES:
        value = OmegaConf.select(cfg, rule.key, default=ABSENT, throw_on_missing=False)
        if value is ABSENT:
            continue
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        if not rule.check(value):
            raise UserError(f"{rule.key}={value!r}: must be {rule.allowed}")
    relations(cfg)
    precision_fits(cfg)
