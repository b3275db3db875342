import torch

from seqnets.losses import SoftmaxMSELoss


def test_two_class_mse_is_sigmoid_output_against_the_bit() -> None:
    torch.manual_seed(0)
    logits, target = torch.randn(4, 2, 6), torch.randint(0, 2, (4, 6))
    sigmoid = torch.sigmoid(logits[:, 1] - logits[:, 0])
    expected = ((sigmoid - target.float()) ** 2).mean()
    torch.testing.assert_close(SoftmaxMSELoss()(logits, target), expected)


def test_perfect_prediction_costs_nothing() -> None:
    target = torch.tensor([0, 2, 1])
    logits = torch.nn.functional.one_hot(target, 3).float() * 100
    assert SoftmaxMSELoss()(logits, target) < 1e-20
