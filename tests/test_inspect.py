import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from conftest import CONF_DIR, assert_png, finished_run
from hydra import compose, initialize_config_dir

from seqnets.errors import UserError
from seqnets.inspect import carry_figure, inspect, kept_steps, separation


def synthetic_run(compose_cfg, out: Path, *overrides: str) -> Path:
    """A short run of a drawn task that leaves its figures to `inspect`."""
    out.mkdir()
    return finished_run(
        compose_cfg(
            *overrides,
            "trainer.accelerator=cpu",
            "callbacks.progress=null",
            "logger=none",
            "inspect_examples=0",
            f"output_dir={out}",
        )
    )


def drawn(run: Path) -> set[str]:
    """The inspection figures in the run's figures/, each checked to be a real, inked PNG."""
    names = {"states", "gates", "carry", "early"}
    found = {p.stem for p in (run / "figures").glob("*.png") if p.stem in names}
    for name in found:
        assert_png(run / "figures" / f"{name}.png")
    return found


def test_the_adders_carry_is_held_by_one_unit(compose_cfg, tmp_path: Path) -> None:
    """The plain RNN-4 adder's settings cut to one epoch and one test length: it adds 8-bit
    numbers without a fault by then, and a unit follows the carry (the plain run, nine
    epochs, gets r = 0.94 too)."""
    run = synthetic_run(
        compose_cfg,
        tmp_path / "adder",
        "task=adder",
        "model=rnn",
        "model.hidden_size=4",
        "trainer.max_epochs=1",
        "task.test_bits=[8]",
        "task.test_size=200",
    )
    summary = inspect(run)
    carry = summary["carry"]
    assert len(carry["r_by_unit"]) == 4
    assert abs(carry["best_r"]) >= 0.9, carry
    assert abs(carry["r_by_unit"][carry["best_unit"] - 1]) == abs(carry["best_r"])
    assert carry["direction_r"] >= abs(carry["best_r"]) - 1e-6  # a unit is one direction
    assert summary["examples"] == 200 and summary["accuracy"] > 0.9
    assert drawn(run) == {"states", "carry"}  # a vanilla RNN has no gates
    assert json.loads((run / "inspection.json").read_text()) == summary


def test_recall_with_two_units_draws_the_raw_state(compose_cfg, tmp_path: Path) -> None:
    """Hidden 2: the state itself is drawn. The ten digits must form ten groups once the run
    recalls them (above 90 %); a short run only has to draw them."""
    run = synthetic_run(
        compose_cfg,
        tmp_path / "recall",
        "task=recall",
        "model=gru",
        "model.hidden_size=2",
        "task.train_size=300",
        "task.test_size=100",
        "trainer.max_epochs=2",
    )
    summary = inspect(run, examples=60)
    assert summary["state_axes"] == ["unit 1", "unit 2"]
    assert summary["examples"] == 60 and summary["separation"]["classes"] == 10
    if summary["accuracy"] > 0.9:
        assert summary["separation"]["separated_groups"] == 10, summary
    early = summary["early_acc"]
    assert list(early) == [str(t) for t in range(1, 11)]  # the longest trained length, 10
    assert early["10"] == pytest.approx(summary["accuracy"])
    assert drawn(run) == {"states", "gates", "early"}


def test_a_saturated_unit_still_draws_its_carry() -> None:
    """A unit stuck at tanh's ceiling spans a few float32 steps (an RNN-2 that never learnt
    to add): its histogram is still drawn, where thirty bins of that span failed the run."""
    states = torch.ones(4, 8, 2)
    states[:, :4, 0] = torch.nextafter(torch.tensor(1.0), torch.tensor(0.0))
    states[..., 1] = torch.linspace(-1, 1, 32).reshape(4, 8)
    carry = torch.arange(32).remainder(2).reshape(4, 8)
    tracked = {"r_by_unit": [0.9, 0.1], "best_unit": 1, "best_r": 0.9, "direction_r": 0.9}
    figure = carry_figure(states, carry, tracked)
    assert sum(len(axes.patches) for axes in figure.axes) > 60  # both units' histograms


def test_ten_groups_are_told_from_fewer() -> None:
    """Ten digits on a circle form ten groups; with two of them on one spot, nine."""
    y = torch.arange(10).repeat_interleave(20)
    angles = 2 * math.pi * y / 10
    ring = torch.stack([angles.cos(), angles.sin()], 1) + 0.05 * torch.randn(200, 2)
    assert separation(ring, y) == {"nearest_mean_acc": 1.0, "separated_groups": 10, "classes": 10}
    merged = ring.clone()
    merged[y == 9] = ring[y == 8]
    assert separation(merged, y)["separated_groups"] == 9


@pytest.mark.parametrize("model", ["lstm", "bilstm"])
def test_an_image_run_is_inspected(run_cfg, model: str) -> None:
    """Rows of the toy images: PCA of the states, gates of each direction, and early decisions
    for every row, the last the head's own accuracy; reread prefixes for the bidirectional."""
    run = finished_run(run_cfg(f"model={model}", "inspect_examples=0", "logger=none"))
    summary = inspect(run)
    assert summary["examples"] == 60  # the whole toy test set
    assert summary["state_axes"][0].startswith("PC1 (")
    assert list(summary["early_acc"]) == [str(t) for t in range(1, 29)]
    assert summary["early_acc"]["28"] == pytest.approx(summary["accuracy"])
    assert drawn(run) == {"states", "gates", "early"}


def test_long_sequences_keep_28_steps() -> None:
    assert kept_steps(784) == list(range(28, 785, 28))
    assert kept_steps(9) == list(range(1, 10))
    assert kept_steps(30) == list(range(2, 31, 2))


def test_a_run_without_a_checkpoint_is_one_line(run_cfg) -> None:
    run = finished_run(run_cfg("debug=fast", "logger=none"))
    (run / "metrics.json").unlink()
    shutil.rmtree(run / "checkpoints")
    with pytest.raises(UserError, match=f"^run={run}: no checkpoint to load .* ckpt_path=...$"):
        inspect(run)
    with pytest.raises(UserError, match="^ckpt_path=/nowhere.ckpt: no such checkpoint$"):
        inspect(run, "/nowhere.ckpt")
    with pytest.raises(UserError, match="^examples=0: must be an integer >= 1$"):
        inspect(run, examples=0)


def test_inspect_reads_the_first_thousand_test_examples_by_default() -> None:
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("inspect", overrides=["run=r"])
    assert (cfg.run, cfg.ckpt_path, cfg.examples) == ("r", None, 1000)
