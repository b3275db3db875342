"""Ask a trained run about one input, written as a person would:

python -m seqnets.predict run=<run folder> input="4 9 9"      # recall
python -m seqnets.predict run=<run folder> input=1011+0110    # addition
python -m seqnets.predict run=<run folder> input=digit.png    # MNIST-style
python -m seqnets.predict run=<run folder> input=digit.png save_input=seen.png  # what it saw
"""

from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from seqnets.errors import one_line_errors
from seqnets.runs import trained_model


def predict(
    run: Path, text: str, ckpt_path: str | None = None, save_input: str | None = None
) -> str:
    """The task's own reading of the model's answer for `text`; `save_input` keeps the input
    the model was given (an image's 28 x 28 pixels), so a person can check what it saw."""
    task, module, _ = trained_model(run, ckpt_path)
    x = task.encode(text)
    if save_input is not None:
        task.save_input(Path(save_input))
    with torch.inference_mode():
        answer = task.explain(module(x).softmax(1))
    return answer if save_input is None else f"{answer}\nSaved as the model saw it: {save_input}"


@hydra.main(version_base="1.3", config_path="pkg://seqnets.conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        print(predict(Path(cfg.run), str(cfg.input), cfg.ckpt_path, cfg.save_input))


if __name__ == "__main__":
    main()
