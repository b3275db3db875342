import torch
from conftest import built
from hypothesis import given
from hypothesis import strategies as st

from seqnets.tasks.recall import Recall, draw_recall


@given(
    seed=st.integers(0, 2**31),
    batch=st.integers(1, 16),
    length=st.integers(1, 30),
    data=st.data(),
)
def test_rows_are_one_hot_and_the_target_is_the_digit_at_k(seed, batch, length, data) -> None:
    k = data.draw(st.integers(1, length))
    x, y, digits = draw_recall(torch.Generator().manual_seed(seed), batch, length, k)
    assert x.shape == (batch, length, 10) and y.shape == (batch,)
    assert torch.all((x == 0) | (x == 1)) and torch.all(x.sum(-1) == 1)
    assert torch.equal(x.argmax(-1), digits)
    assert torch.equal(y, digits[:, k - 1])


def test_the_issues_example_prints_as_in_the_reference() -> None:
    """For [4 9 9] and K=2 the answer is 9."""
    task = built("task", "recall", k=2, min_len=3, max_len=3, extra_test_lens=[])
    x = torch.nn.functional.one_hot(torch.tensor([[4, 9, 9]]), 10).float()
    task.examples = lambda: [(x, torch.tensor([9]))]
    report = task.format_predictions([torch.tensor([9])], {"test_acc_by_len": {}, "test_acc": 1.0})
    assert report.splitlines()[0] == "Array: [4 9 9]  Prediction at position 2: 9  (true 9)"


def epoch_batches(task: Recall, epoch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    task.current_epoch = lambda: epoch
    return list(task.train_dataloader())


def test_training_draws_fresh_seeded_batches_every_epoch() -> None:
    task = built("task", "recall", train_size=450, batch_size=50, seed=3)
    first, again = (
        epoch_batches(task, 0),
        epoch_batches(built("task", "recall", train_size=450, batch_size=50, seed=3), 0),
    )
    second = epoch_batches(task, 1)
    assert len(first) == 9 and all(len(y) == 50 for _, y in first)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0][0], second[0][0])
    lengths = {x.shape[1] for batches in (first, second) for x, _ in batches}
    assert lengths <= set(range(3, 11)) and len(lengths) > 1


def test_test_sets_cover_every_length_and_are_fixed_by_the_seed() -> None:
    task = built(
        "task", "recall", test_size=30, eval_batch_size=20, extra_test_lens=[15, 20], seed=5
    )
    loaders = task.test_dataloader()
    assert [next(iter(dl))[0].shape[1] for dl in loaders] == [*range(3, 11), 15, 20]
    assert all(sum(len(y) for _, y in dl) == 30 for dl in loaders)
    again = built("task", "recall", test_size=30, eval_batch_size=20, seed=5).test_dataloader()
    assert torch.equal(next(iter(loaders[4]))[0], next(iter(again[4]))[0])
    other = built("task", "recall", test_size=30, eval_batch_size=20, seed=6).test_dataloader()
    assert not torch.equal(next(iter(loaders[4]))[0], next(iter(other[4]))[0])


def test_metrics_keep_trained_and_extra_lengths_apart() -> None:
    task = built("task", "recall", min_len=3, max_len=4, extra_test_lens=[15])
    results = [
        {"test/acc/dataloader_idx_0": 1.0, "test/loss/dataloader_idx_0": 0.1},
        {"test/acc/dataloader_idx_1": 0.5, "test/loss/dataloader_idx_1": 0.2},
        {"test/acc/dataloader_idx_2": 0.25, "test/loss/dataloader_idx_2": 0.3},
    ]
    metrics = task.test_scores(results)
    assert metrics["test_acc"] == 0.75 and metrics["test_acc_extra"] == 0.25
    assert metrics["test_acc_by_len"] == {"3": 1.0, "4": 0.5, "15": 0.25}


def test_predictions_show_three_sequences_per_length() -> None:
    task = built("task", "recall", min_len=3, max_len=4, extra_test_lens=[], test_size=10)
    examples = task.examples()
    preds = [y for _, y in examples]
    metrics = {"test_acc_by_len": {"3": 1.0, "4": 1.0}, "test_acc": 1.0}
    lines = task.format_predictions(preds, metrics).splitlines()
    assert len(lines) == 3 + 3 + 2 + 1
    x, y = examples[0]
    digits = " ".join(str(int(d)) for d in x[0].argmax(-1))
    assert (
        lines[0] == f"Array: [{digits}]  Prediction at position 2: {int(y[0])}  (true {int(y[0])})"
    )
    assert lines[-1] == "Test accuracy over lengths 3-4: 100.00 %"
