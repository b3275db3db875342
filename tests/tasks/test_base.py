from seqnets.tasks.base import EpochShuffle


def test_shards_split_one_epoch_order_evenly() -> None:
    alone = list(EpochShuffle(11, seed=3, epoch=lambda: 2))
    shards = [list(EpochShuffle(11, seed=3, epoch=lambda: 2, shard=(r, 3))) for r in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]  # equal steps for every process
    assert [i for step in zip(*shards, strict=True) for i in step] == alone[:9]
    assert list(EpochShuffle(11, seed=3, epoch=lambda: 3)) != alone  # a new order each epoch
