"""Losses beyond torch's own, each taking logits (N, C, ...) and class targets (N, ...)."""

import torch
import torch.nn.functional as F
from torch import nn


class SoftmaxMSELoss(nn.Module):
    """Squared error between class probabilities and the one-hot target.

    With two classes this is exactly the squared error of a sigmoid output against a 0/1
    target, the reference's MSE variant of binary addition.
    """

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        probs = logits.softmax(dim=1)
        one_hot = F.one_hot(target, probs.shape[1]).movedim(-1, 1).to(probs.dtype)
        return F.mse_loss(probs, one_hot)
