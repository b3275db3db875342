import json
from pathlib import Path

import pytest
from conftest import finished_run, recall_cfg

from seqnets.errors import UserError
from seqnets.evaluate import evaluate


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
