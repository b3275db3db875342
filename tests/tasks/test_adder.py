import torch
from conftest import built
from hypothesis import given
from hypothesis import strategies as st

from seqnets.tasks.adder import draw_sums, to_text


def as_int(bits: torch.Tensor) -> int:
    """LSB-first bits as a Python integer (no overflow, whatever the length)."""
    return sum(int(b) << i for i, b in enumerate(bits))


@given(seed=st.integers(0, 2**31), batch=st.integers(1, 8), bits=st.integers(1, 130))
def test_sum_bits_add_up_to_a_plus_b(seed: int, batch: int, bits: int) -> None:
    x, y = draw_sums(torch.Generator().manual_seed(seed), batch, bits)
    assert x.shape == (batch, bits + 1, 2) and y.shape == (batch, bits + 1)
    assert torch.all(x[:, -1] == 0), "the last step is zeros, for the final carry"
    for operands, total in zip(x.long(), y, strict=True):
        a, b = as_int(operands[:, 0]), as_int(operands[:, 1])
        assert a < 2**bits and b < 2**bits
        assert as_int(total) == a + b


def test_text_is_most_significant_bit_first() -> None:
    assert to_text(torch.tensor([1, 0, 1, 1])) == "1101"


def test_training_lengths_vary_up_to_bits_and_can_be_fixed() -> None:
    task = built("task", "adder", bits=8, random_lengths=True, train_size=2000, batch_size=50)
    task.current_epoch = lambda: 0
    lengths = {x.shape[1] - 1 for x, _ in task.train_dataloader()}
    assert lengths <= set(range(1, 9)) and len(lengths) > 3
    fixed = built("task", "adder", bits=8, train_size=200, batch_size=50)
    fixed.current_epoch = lambda: 0
    assert {x.shape[1] - 1 for x, _ in fixed.train_dataloader()} == {8}


def test_metrics_average_and_break_down_by_length() -> None:
    task = built("task", "adder", test_bits=[8, 64])
    results = [
        {
            "test/acc/dataloader_idx_0": 1.0,
            "test/exact/dataloader_idx_0": 1.0,
            "test/loss/dataloader_idx_0": 0,
        },
        {
            "test/acc/dataloader_idx_1": 0.9,
            "test/exact/dataloader_idx_1": 0.5,
            "test/loss/dataloader_idx_1": 1,
        },
    ]
    metrics = task.test_scores(results)
    assert metrics["test_exact_by_bits"] == {"8": 1.0, "64": 0.5}
    assert metrics["test_acc_by_bits"] == {"8": 1.0, "64": 0.9}
    assert metrics["test_exact"] == 0.75 and metrics["test_acc"] == 0.95


def test_predictions_read_like_sums_on_paper() -> None:
    task = built("task", "adder", test_bits=[4], test_size=5, num_examples=2)
    ((x, y),) = task.examples()
    wrong = y.clone()
    wrong[1, 0] ^= 1
    lines = task.format_predictions([wrong], {"test_exact_by_bits": {"4": 0.5}}).splitlines()
    a, b = to_text(x[0, :-1, 0].long()), to_text(x[0, :-1, 1].long())
    assert lines[0] == f"{a} + {b} = {to_text(y[0])}   predicted {to_text(y[0])}  ok"
    assert lines[1].endswith("WRONG") and len(lines[1].split()[0]) == 4
    assert int(a, 2) + int(b, 2) == int(to_text(y[0]), 2)
    assert lines[2] == "Exact match at 4 bits: 50.00 %"


def test_a_small_rnn_learns_8_bit_addition_deterministically(compose_cfg, tmp_path) -> None:
    from seqnets.train import train

    def run(name: str) -> dict:
        cfg = compose_cfg(
            "task=adder",
            "task.train_size=5000",
            "task.batch_size=100",
            "task.test_bits=[8]",
            "model=rnn",
            "model.hidden_size=8",
            "model.init=orthogonal",
            "optim.lr=0.03",
            "trainer.max_epochs=6",
            "trainer.gradient_clip_val=1.0",
            "trainer.accelerator=cpu",
            "callbacks.progress=null",
            "logger=none",
            f"output_dir={tmp_path / name}",
        )
        (tmp_path / name).mkdir()
        return train(cfg)

    first = run("a")
    assert first["test_exact_by_bits"] == {"8": 1.0}
    second = run("b")
    assert {
        k: v
        for k, v in first.items()
        if "time" not in k and "sec" not in k and "checkpoint" not in k
    } == {
        k: v
        for k, v in second.items()
        if "time" not in k and "sec" not in k and "checkpoint" not in k
    }
