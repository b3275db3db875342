import torch

from seqnets.plots import curves_figure, image_grid


def test_image_grid_marks_the_wrong_predictions() -> None:
    images = torch.randint(0, 255, (7, 28, 28), dtype=torch.uint8)
    preds, labels = torch.tensor([0, 1, 2, 3, 4, 5, 6]), torch.tensor([0, 1, 9, 3, 4, 5, 0])
    figure = image_grid(images, preds, labels, [str(c) for c in range(10)])
    titled = [axes for axes in figure.axes if axes.get_title()]
    assert len(figure.axes) == 10 and len(titled) == 7  # a 2 x 5 grid, three cells left blank
    wrong = [axes.get_title() for axes in titled if axes.title.get_color() == "red"]
    assert wrong == ["✗ 2\n(true 9)", "✗ 6\n(true 0)"]
    assert titled[0].get_title() == "0"


def test_curves_figure_puts_validation_on_epochs() -> None:
    curves = {"train/loss": [(50, 1.0), (100, 0.5)], "val/acc": [(99, 0.6), (199, 0.8)]}
    figure = curves_figure({"a": curves, "b": curves})
    loss, acc, val = figure.axes
    assert list(loss.lines[0].get_xdata()) == [50, 100]
    assert list(val.lines[1].get_xdata()) == [1, 2] and list(val.lines[1].get_ydata()) == [0.6, 0.8]
    assert acc.lines[0].get_xdata().size == 0  # nothing logged, nothing drawn
