import torch

from seqnets.tasks.synthetic import EpochBatches


def test_shards_keep_every_world_th_batch_of_the_same_stream() -> None:
    def draw(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randint(0, 100, (4,), generator=generator), torch.zeros(4)

    alone = [x for x, _ in EpochBatches(draw, 5, seed=1, epoch=lambda: 0)]
    shards = [[x for x, _ in EpochBatches(draw, 5, 1, lambda: 0, (r, 2))] for r in range(2)]
    assert [len(s) for s in shards] == [2, 2]
    assert torch.equal(torch.stack(shards[0]), torch.stack(alone[0:4:2]))
    assert torch.equal(torch.stack(shards[1]), torch.stack(alone[1:4:2]))
