import json
from pathlib import Path

import pytest
from conftest import finished_run, recall_cfg

from seqnets.errors import UserError
from seqnets.evaluate import evaluate
from seqnets.train import train
from seqnets.validation import validate


@pytest.mark.parametrize("task", ["mnist", "recall"])
def test_evaluate_reproduces_the_runs_test_metrics(run_cfg, compose_cfg, tmp_path, task) -> None:
    out = finished_run(run_cfg() if task == "mnist" else recall_cfg(compose_cfg, tmp_path / "r"))
    recorded = json.loads((out / "metrics.json").read_text())
    events = sorted((out / "tensorboard").iterdir())
    metrics = evaluate(out)
    assert metrics["checkpoint"] == recorded["best_checkpoint"]
    tested = {k: v for k, v in recorded.items() if k.startswith("test_")}
    assert {k: metrics[k] for k in tested} == tested
    assert json.loads((out / "evaluation.json").read_text()) == metrics
    assert sorted((out / "tensorboard").iterdir()) == events, "evaluation logs nothing"


def test_evaluate_names_what_is_missing(tmp_path: Path, run_cfg) -> None:
    with pytest.raises(UserError, match=f"^run={tmp_path}: not a run folder"):
        evaluate(tmp_path)
    out = finished_run(run_cfg("debug=fast"))
    with pytest.raises(UserError, match="^ckpt_path=/nowhere.ckpt: no such checkpoint$"):
        evaluate(out, "/nowhere.ckpt")


def test_a_bfloat16_run_clips_resumes_and_evaluates(run_cfg) -> None:
    """bf16-mixed on the CPU, with the fused Adam and clipping (a GRU: torch runs its bfloat16
    on any CPU); continued from its checkpoint, then evaluated from its best one."""
    settings = ("model=gru", "trainer.precision=bf16-mixed", "trainer.gradient_clip_val=1.0")
    out = finished_run(run_cfg(*settings))
    recorded = json.loads((out / "metrics.json").read_text())
    assert recorded["precision"] == "bf16-mixed" and recorded["status"] == "completed"
    last = out / "checkpoints" / "last.ckpt"
    more = train(run_cfg(*settings, "trainer.max_epochs=3", f"ckpt_path={last}", name="more"))
    assert more["status"] == "completed" and more["epochs"] == 3
    metrics = evaluate(out)
    tested = {k: v for k, v in recorded.items() if k.startswith("test_")}
    assert {k: metrics[k] for k in tested} == tested


def test_bfloat16_lstm_on_a_cpu_without_it_is_refused_in_one_line(run_cfg, monkeypatch) -> None:
    monkeypatch.setattr("seqnets.validation.bfloat16_cpu", lambda: False)
    with pytest.raises(UserError, match=r"^trainer.precision=bf16-mixed: this CPU has no nat"):
        validate(run_cfg("model=lstm", "trainer.precision=bf16-mixed"))
    monkeypatch.setattr("seqnets.validation.bfloat16_cpu", lambda: True)
    validate(run_cfg("model=lstm", "trainer.precision=bf16-mixed", name="native"))
