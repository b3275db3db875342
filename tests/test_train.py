import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import (
    FASHION_DIR,
    MNIST_DIR,
    assert_no_library_notices,
    assert_png,
    finished_run,
    make_idx_dir,
    recall_cfg,
    toy_data,
    write_split,
)
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from seqnets.classifier import SequenceClassifier
from seqnets.errors import Diverged, UserError
from seqnets.logs import read_curves
from seqnets.runs import AtomicCheckpointIO, build, read_checkpoint, resumed, run_config
from seqnets.runs import test_checkpoint as checkpoint_metrics
from seqnets.train import train

ROOT = Path(__file__).resolve().parents[1]
METRIC_KEYS = {
    "task",
    "model",
    "hidden_size",
    "num_layers",
    "bidirectional",
    "num_params",
    "epochs",
    "seed",
    "test_acc",
    "val_acc",
    "train_time_s",
    "sec_per_epoch",
    "status",
}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "seqnets.train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru", "birnn"])
def test_a_run_leaves_its_files(run_cfg, model: str, capsys) -> None:
    cfg = run_cfg(f"model={model}")
    metrics = train(cfg)
    out = Path(cfg.output_dir)

    saved = json.loads((out / "metrics.json").read_text())
    assert saved == metrics and set(saved) >= METRIC_KEYS
    assert saved["model"] == model and saved["task"] == "mnist" and saved["epochs"] == 2
    assert saved["num_params"] == sum(
        p.numel()
        for p in SequenceClassifier.load_from_checkpoint(
            saved["best_checkpoint"], weights_only=True
        ).net.parameters()
    )
    assert (
        0.0 <= saved["test_acc"] <= 1.0
        and saved["sec_per_epoch"] > 0
        and saved["status"] == "completed"
    )

    lines = (out / "predictions.txt").read_text().splitlines()
    assert lines[0].startswith("Predicted: ") and len(lines[0].split()) == 11
    assert lines[1].startswith("True:      ") and len(lines[1].split()) == 11
    assert lines[2] == f"Test accuracy on the 60 test images: {100 * saved['test_acc']:.2f} %"
    assert "\n".join(lines) in capsys.readouterr().out

    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert Path(saved["best_checkpoint"]).parent == out / "checkpoints"
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["hyper_parameters"]["model"]["cell"] == model.removeprefix("bi")

    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    expected = {
        "train/loss",
        "train/acc",
        "val/loss",
        "val/acc",
        "test/acc",
        "test/loss",
        "lr-Adam",
        "time/sec_per_epoch",
        "hp/test_acc",
    }
    assert expected <= scalars, expected - scalars
    assert len(events.Scalars("train/loss")) == 2 * 10  # 200 samples / batch 20, two epochs
    assert len(events.Scalars("val/acc")) == 2
    assert events.Scalars("hp/test_acc")[-1].value == pytest.approx(saved["test_acc"])
    assert saved["selected_by"] == {"val/acc": saved["val_acc"]}
    # the training curves, the task's figure, and what the network does (seqnets.inspect)
    drawn = {"curves", "predictions", "states", "early"} | (
        {"gates"} if "rnn" not in model else set()
    )
    assert set(events.Tags()["images"]) == {f"figures/{name}" for name in drawn}
    for name in drawn:  # TensorBoard shows each figure's PNG file as it is
        assert_png(out / "figures" / f"{name}.png")
        shown = events.Images(f"figures/{name}")[-1].encoded_image_string
        assert shown == (out / "figures" / f"{name}.png").read_bytes()
    assert json.loads((out / "inspection.json").read_text())["examples"] == 60


def test_the_toy_task_is_learned(run_cfg) -> None:
    metrics = train(
        run_cfg("model=gru", "trainer.max_epochs=8", "optim.lr=0.02", "model.hidden_size=32")
    )
    assert metrics["test_acc"] >= 0.9


def test_same_seed_same_metrics(run_cfg) -> None:
    first = train(run_cfg("model=gru", name="a"))
    second = train(run_cfg("model=gru", name="b"))
    assert first["test_acc"] == second["test_acc"] and first["val_acc"] == second["val_acc"]


@pytest.mark.parametrize("task", ["recall", "adder"])
def test_synthetic_tasks_are_deterministic_by_seed(compose_cfg, tmp_path: Path, task: str) -> None:
    def run(name: str, seed: int) -> dict:
        (tmp_path / name).mkdir()
        cfg = compose_cfg(
            f"task={task}",
            "task.train_size=300",
            "task.test_size=50",
            "model=gru",
            "model.hidden_size=4",
            "model.dropout=0",
            "trainer.max_epochs=2",
            "trainer.accelerator=cpu",
            "callbacks.progress=null",
            "logger=none",
            f"seed={seed}",
            f"output_dir={tmp_path / name}",
        )
        return {k: v for k, v in train(cfg).items() if k.startswith("test_") or k == "val_acc"}

    first, again, other = run("a", 1), run("b", 1), run("c", 2)
    assert first == again
    assert first != other


def test_csv_logger_and_no_logger(run_cfg) -> None:
    cfg = run_cfg("logger=csv", "debug=fast", name="csv")
    train(cfg)
    rows = (Path(cfg.output_dir) / "csv" / "metrics.csv").read_text()
    assert "train/loss" in rows.splitlines()[0] and "hp/test_acc" in rows.splitlines()[0]
    assert_png(Path(cfg.output_dir) / "figures" / "curves.png")
    cfg = run_cfg("logger=none", "debug=fast", name="none")
    assert train(cfg)["status"] == "completed"
    assert not (Path(cfg.output_dir) / "tensorboard").exists()
    figures = Path(cfg.output_dir) / "figures"
    assert "curves.png" not in {p.name for p in figures.iterdir()}  # no log, no curves
    cfg = run_cfg("logger=none", "debug=fast", "inspect_examples=0", name="plain")
    train(cfg)
    figures = Path(cfg.output_dir) / "figures"
    assert sorted(p.name for p in figures.iterdir()) == ["predictions.png"]  # nor inspection


def test_real_mnist_digits_are_learned(run_cfg, tmp_path: Path) -> None:
    """Train on 8,000 of the shipped test digits and test on the other 2,000."""
    import numpy as np

    from seqnets.tasks.images import read_idx, read_image_file, read_label_file

    images = read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz", read_image_file).numpy()
    labels = (
        read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz", read_label_file).numpy().astype(np.uint8)
    )
    folder = tmp_path / "real"
    folder.mkdir()
    write_split(folder, "train", images[:8000], labels[:8000], gz=True)
    write_split(folder, "t10k", images[8000:], labels[8000:], gz=True)
    cfg = run_cfg(
        f"task.data_dir={folder}",
        "task.val_size=1000",
        "task.batch_size=50",
        "model=gru",
        "model.hidden_size=64",
        "optim.lr=0.005",
        "trainer.max_epochs=3",
    )
    metrics = train(cfg)
    assert metrics["test_samples"] == 2000
    assert metrics["test_acc"] >= 0.9


@pytest.mark.realdata
@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_full_fashion_mnist_one_epoch(run_cfg) -> None:
    cfg = run_cfg(
        "task=fashion_mnist",
        f"task.data_dir={FASHION_DIR}",
        "task.val_size=5000",
        "task.batch_size=100",
        "task.eval_batch_size=1000",
        "model=lstm",
        "model.hidden_size=128",
        "trainer.max_epochs=1",
        "trainer.log_every_n_steps=50",
    )
    metrics = train(cfg)
    assert metrics["task"] == "fashion_mnist" and metrics["test_samples"] == 10_000
    assert metrics["test_acc"] >= 0.80


def test_cli_bad_data_is_one_line(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path / "bad")
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00")
    done = cli(f"task.data_dir={folder}", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"seqnets: error: {folder / 't10k-labels-idx1-ubyte'}: "
        "corrupt or truncated IDX file (bad header)"
    )
    assert "Traceback" not in done.stderr


def test_divergence_stops_with_epoch_step_and_a_hint(compose_cfg, tmp_path: Path) -> None:
    cfg = compose_cfg(
        "task=adder",
        "task.train_size=500",
        "model=rnn",
        "model.nonlinearity=relu",
        "model.hidden_size=16",
        "optim.lr=1e10",
        "trainer.accelerator=cpu",
        "callbacks.progress=null",
        f"output_dir={tmp_path}",
    )
    with pytest.raises(Diverged, match=r"^loss became nan at epoch 0, step \d+; lower optim.lr"):
        train(cfg)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["status"] == "diverged" and "gradient_clip_val" in saved["error"]


@pytest.mark.parametrize(("every", "caught"), [(5, 4), (50, 9)])
def test_divergence_is_caught_where_the_loss_is_read(compose_cfg, tmp_path, every, caught) -> None:
    """NaN weights from step 2 on: the loss is read, and the run stopped, at the first step the
    logger writes, or at the epoch's last (step 9 of 10) when that comes first; the steps in
    between never wait to read it."""
    cfg = recall_cfg(
        compose_cfg, tmp_path / "run", "task.batch_size=20", f"trainer.log_every_n_steps={every}"
    )
    with open_dict(cfg):
        cfg.callbacks.poison = {"_target_": "conftest.PoisonAt", "step": 2}
    with pytest.raises(Diverged, match=f"^loss became nan at epoch 0, step {caught}; lower"):
        train(cfg)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "diverged"
    assert not (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()


def save_like_hydra(cfg, out: Path) -> None:
    (out / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out / ".hydra" / "config.yaml")


def test_interrupted_then_resumed_equals_uninterrupted(run_cfg) -> None:
    """Ctrl-C in the middle of epoch 1, then resume: the same test metrics to the last bit
    (dropout included, so the random state must come back too)."""
    settings = ("model=lstm", "model.num_layers=2", "model.dropout=0.3", "trainer.max_epochs=3")
    whole_cfg = run_cfg(*settings, name="whole")
    whole = train(whole_cfg)

    cfg = run_cfg(*settings, name="cut")
    save_like_hydra(cfg, Path(cfg.output_dir))
    with open_dict(cfg):
        cfg.callbacks.interrupt = {"_target_": "conftest.InterruptAt", "epoch": 1, "batch": 4}
    with pytest.raises(SystemExit) as stop:
        train(cfg)
    assert stop.value.code == 130
    out = Path(cfg.output_dir)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["status"] == "interrupted" and saved["resume"].endswith(f"resume={out}")
    assert (out / "checkpoints" / "interrupted.ckpt").is_file()

    cont = train(resumed(OmegaConf.create({"resume": str(out)}), [f"resume={out}"]))
    assert cont["status"] == "completed" and cont["epochs"] == 3
    for key in ("test_acc", "test_loss", "val_acc"):
        assert cont[key] == whole[key], key
    weights = [
        torch.load(Path(c.output_dir) / "checkpoints" / "last.ckpt", weights_only=True)[
            "state_dict"
        ]
        for c in (whole_cfg, cfg)
    ]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_resume_refuses_a_folder_without_a_run(tmp_path: Path, compose_cfg) -> None:
    with pytest.raises(UserError, match=f"^resume={tmp_path}: not a run folder"):
        resumed(OmegaConf.create({"resume": str(tmp_path)}), [])
    save_like_hydra(compose_cfg(f"output_dir={tmp_path}"), tmp_path)
    with pytest.raises(UserError, match="no checkpoints/last.ckpt"):
        resumed(OmegaConf.create({"resume": str(tmp_path)}), [])
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    with pytest.raises(UserError, match="so trainer.max_epochs=9 would be ignored; to change it"):
        resumed(OmegaConf.create({"resume": str(tmp_path)}), ["resume=x", "trainer.max_epochs=9"])


def test_ctrl_c_in_the_first_epoch_says_there_is_nothing_to_resume(run_cfg, capsys) -> None:
    cfg = run_cfg()
    with open_dict(cfg):
        cfg.callbacks.interrupt = {"_target_": "conftest.InterruptAt", "epoch": 0, "batch": 2}
    with pytest.raises(SystemExit):
        train(cfg)
    out = Path(cfg.output_dir)
    assert json.loads((out / "metrics.json").read_text())["resume"].startswith(
        "no epoch had finished"
    )
    assert (out / "checkpoints" / "interrupted.ckpt").is_file()
    assert "nothing to resume: run it again" in capsys.readouterr().err


def stop_mid_run(cfg: DictConfig, stop: str) -> None:
    """Run `cfg` until epoch 1, batch 3: Ctrl-C in process, or SIGKILL in a process of its own
    (nothing flushed or closed: only what the checkpoints made the loggers write survives)."""
    save_like_hydra(cfg, Path(cfg.output_dir))
    with open_dict(cfg):
        cfg.callbacks.interrupt = {"_target_": f"conftest.{stop}", "epoch": 1, "batch": 3}
    if stop == "InterruptAt":
        with pytest.raises(SystemExit):
            train(cfg)
        return
    saved = Path(cfg.output_dir) / "killed.yaml"
    OmegaConf.save(cfg, saved)
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); from omegaconf import "
        f"OmegaConf; from seqnets.train import train; train(OmegaConf.load({str(saved)!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    saved.unlink()


@pytest.mark.parametrize(
    ("logger", "stop"),
    [("tensorboard", "InterruptAt"), ("tensorboard", "KillAt"), ("csv", "KillAt")],
)
def test_a_resumed_run_keeps_the_whole_runs_curves(compose_cfg, tmp_path, logger, stop) -> None:
    """Stopped in epoch 1 of 3, having logged steps past last.ckpt's, then resumed: the curves
    read back (with TensorBoard's reader, or from metrics.csv) are the uninterrupted run's,
    every step once and in order, and figures/curves.png is drawn again from them."""
    settings = ("task.batch_size=20", "trainer.max_epochs=3", "trainer.log_every_n_steps=1")
    cfgs = [recall_cfg(compose_cfg, tmp_path / n, *settings, f"logger={logger}") for n in "wc"]
    whole, cut = finished_run(cfgs[0]), Path(cfgs[1].output_dir)
    stop_mid_run(cfgs[1], stop)
    last_step = torch.load(cut / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    before = read_curves(cut)
    assert [s for s, _ in before["train/loss"]][: last_step + 1] == list(range(last_step + 1))
    (cut / "figures" / "curves.png").unlink(missing_ok=True)

    train(resumed(OmegaConf.create({"resume": str(cut)}), [f"resume={cut}"]))
    curves = read_curves(cut)
    assert curves == read_curves(whole)
    assert [s for s, _ in curves["train/loss"]] == list(range(30))
    assert [s for s, _ in curves["val/acc"]] == [9, 19, 29]
    assert_png(cut / "figures" / "curves.png")


def test_cli_sigterm_then_resume(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path / "idx")
    run = tmp_path / "run"
    args = [
        *toy_data(folder),
        "model=gru",
        "model.hidden_size=8",
        "trainer.max_epochs=60",
        "callbacks.progress=null",
    ]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqnets.train", *args, f"hydra.run.dir={run}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = run / "checkpoints" / "last.ckpt"
    while not last.exists() and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == (
        f"seqnets: interrupted; resume with: python -m seqnets.train resume={run}"
    )
    assert json.loads((run / "metrics.json").read_text())["status"] == "interrupted"
    done = cli(f"resume={run}", f"hydra.run.dir={tmp_path / 'r2'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"Restoring states from the checkpoint path at {run / 'checkpoints' / 'last.ckpt'}" in (
        done.stdout + done.stderr
    )
    finished = json.loads((run / "metrics.json").read_text())
    assert finished["status"] == "completed" and finished["epochs"] == 60


def test_a_kill_while_a_checkpoint_is_written_leaves_the_last_one_whole(run_cfg) -> None:
    """The trainer saves through AtomicCheckpointIO; a process SIGKILLed with half of a new
    last.ckpt written (Lightning's writer slowed to stop there) leaves the old one loadable."""
    assert isinstance(build(run_cfg())[2].strategy.checkpoint_io, AtomicCheckpointIO)
    last = Path(run_cfg(name="kill").output_dir) / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint(
        {"state_dict": {"w": torch.ones(50_000)}, "hyper_parameters": {}}, last
    )
    code = f"""
import io, threading, torch
from lightning.fabric.plugins.io import torch_io
from seqnets.runs import AtomicCheckpointIO

def half_then_hang(checkpoint, path):
    data = io.BytesIO()
    torch.save(checkpoint, data)
    with open(path, "wb") as file:
        file.write(data.getvalue()[: len(data.getvalue()) // 2])
        file.flush()
        print("writing", flush=True)
        threading.Event().wait()

torch_io._atomic_save = half_then_hang
new = {{"state_dict": {{"w": torch.zeros(50_000)}}, "hyper_parameters": {{}}}}
AtomicCheckpointIO().save_checkpoint(new, {str(last)!r})
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "writing\n"
    proc.kill()
    assert proc.wait() == -signal.SIGKILL
    assert torch.equal(read_checkpoint(last)["state_dict"]["w"], torch.ones(50_000))


SYNTHETIC_KEYS = {
    "recall": {"test_acc", "test_acc_extra", "test_acc_by_len", "k"},
    "adder": {"test_acc", "test_exact", "test_acc_by_bits", "test_exact_by_bits", "bits"},
}


@pytest.mark.parametrize("task", sorted(SYNTHETIC_KEYS))
def test_synthetic_tasks_leave_their_metrics(compose_cfg, tmp_path: Path, task: str) -> None:
    cfg = compose_cfg(
        f"task={task}",
        "task.train_size=200",
        "task.test_size=50",
        "task.batch_size=50",
        "model=gru",
        "model.hidden_size=4",
        "callbacks.checkpoint.monitor=val/loss",
        "callbacks.checkpoint.mode=min",
        "trainer.max_epochs=1",
        "trainer.accelerator=cpu",
        "callbacks.progress=null",
        f"output_dir={tmp_path}",
    )
    metrics = train(cfg)
    assert METRIC_KEYS | SYNTHETIC_KEYS[task] <= set(metrics)
    # chosen by validation loss, the run still reports validation accuracy as val_acc
    assert list(metrics["selected_by"]) == ["val/loss"]
    assert metrics["val_acc"] != metrics["selected_by"]["val/loss"]
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    lines = (tmp_path / "predictions.txt").read_text().splitlines()
    if task == "recall":
        assert list(metrics["test_acc_by_len"]) == [*map(str, range(3, 11)), "15", "20"]
        assert sum(line.startswith("Array: [") for line in lines) == 3 * 10
    else:
        assert list(metrics["test_exact_by_bits"]) == ["8", "16", "32", "64", "1024"]
        # three sums of each length that fits a line: up to 64 bits
        assert sum(" + " in line and "predicted" in line for line in lines) == 3 * 4
    figure = "acc_by_len.png" if task == "recall" else "exact_by_bits.png"
    inspection = {"states.png", "gates.png"} | (
        {"early.png"} if task == "recall" else {"carry.png"}
    )
    assert {p.name for p in (tmp_path / "figures").iterdir()} == {"curves.png", figure} | inspection
    assert_png(tmp_path / "figures" / figure)


def test_permuted_pixels_train_and_keep_their_order(run_cfg) -> None:
    cfg = run_cfg("task=psmnist", "task.permutation_seed=5", "model.hidden_size=8", "debug=fast")
    assert train(cfg)["status"] == "completed"
    saved = torch.load(Path(cfg.output_dir) / "checkpoints" / "last.ckpt", weights_only=True)
    expected = instantiate(cfg.task).permutation.tolist()
    assert saved["ImageSequences"]["permutation"] == expected
    assert expected != instantiate(cfg.task, permutation_seed=0).permutation.tolist()


def test_ddp_on_cpu_leaves_one_run_with_the_metrics_of_one_process(tmp_path: Path) -> None:
    """Two gloo processes share the data; the synced test metrics are those of the best
    checkpoint tested in a single process, and only one run folder is made."""
    folder = make_idx_dir(tmp_path / "idx")
    out = tmp_path / "run"
    done = cli(
        "trainer=ddp",
        "trainer.accelerator=cpu",
        *toy_data(folder),
        "task.eval_batch_size=25",
        "model=gru",
        "model.hidden_size=16",
        "trainer.max_epochs=2",
        "callbacks.progress=null",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx", "run"]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["status"] == "completed" and saved["test_samples"] == 60
    cfg = run_config(out)
    with open_dict(cfg):
        cfg.trainer.update(strategy="auto", devices=1, use_distributed_sampler=True)
    task, module, trainer = build(cfg)
    alone = checkpoint_metrics(trainer, task, module, saved["best_checkpoint"])
    assert alone["test_samples"] == 60
    assert alone["test_acc"] == pytest.approx(saved["test_acc"])
    assert alone["test_loss"] == pytest.approx(saved["test_loss"], rel=1e-5)


def test_gradients_are_clipped_and_the_schedule_steps_each_epoch(run_cfg) -> None:
    """trainer.gradient_clip_val bounds the steps of the fused optimizers, and the cosine
    schedule moves once an epoch."""
    cfg = run_cfg(
        "optim=sgd",
        "optim.lr=1.0",
        "trainer.gradient_clip_val=0.001",
        "+trainer.limit_train_batches=1",
        "trainer.max_epochs=1",
        "scheduler=none",
        name="clipped",
    )
    task, module, trainer = build(cfg)
    before = torch.cat([p.detach().flatten().clone() for p in module.net.parameters()])
    trainer.fit(module, datamodule=task)
    after = torch.cat([p.detach().flatten() for p in module.net.parameters()])
    assert 0 < torch.linalg.vector_norm(after - before) <= 0.001 + 1e-6  # lr 1 x clipped grad

    cfg = run_cfg("trainer.max_epochs=3", "optim.lr=0.002", name="schedule")
    train(cfg)
    events = EventAccumulator(str(Path(cfg.output_dir) / "tensorboard"))
    events.Reload()
    rates = [e.value for e in events.Scalars("lr-Adam")]
    assert rates == pytest.approx([0.002, 0.0015, 0.0005])  # cosine over 3 epochs


def test_a_cpu_run_does_not_look_for_gpus_at_every_step(run_cfg, monkeypatch) -> None:
    """Lightning's NVML-based GPU check, repeated by torch's optimizers at every step, is off
    once a run is built for the CPU."""
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    probes: list[int] = []
    monkeypatch.setattr(torch.cuda, "_raw_device_count_nvml", lambda: probes.append(1) or -1)
    _, module, _ = build(run_cfg(name="cpu"))
    probes.clear()
    optimizer = torch.optim.Adam(module.parameters(), fused=True)
    for p in module.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    optimizer.step()
    assert probes == []


@pytest.mark.parametrize(
    ("task", "result"),
    [("images", "Test accuracy on the"), ("recall", "Test accuracy over lengths")],
)
def test_cli_run_prints_no_library_notices(tmp_path: Path, task: str, result: str) -> None:
    """Lightning's cloud tips, a deprecation inside Lightning's code and cautions that do not
    apply are not the user's business; the run's own output still is."""
    data = toy_data(make_idx_dir(tmp_path / "idx")) if task == "images" else ["task=recall"]
    done = cli(*data, "debug=fast", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_no_library_notices(done.stdout + done.stderr)
    assert result in done.stdout
