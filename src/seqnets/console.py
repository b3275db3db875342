"""What a run prints: its progress, predictions, results and where its files are, not notices
from the libraries underneath that a user did not ask for and cannot act on."""

import logging
import warnings

# Lightning's advertisements for its cloud products, printed at every Trainer's start.
TIP = "💡 Tip:"


def drop_tips(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(TIP)


def quiet_libraries() -> None:
    """Filter those notices where they are made: Lightning's tips on its own logger, alembic's
    plugin list in an Optuna search, the deprecation torch raises inside Lightning's code (its
    use of `LeafSpec`), and Lightning's caution about a sized IterableDataset under several
    loader workers, which the drawn tasks' one-process loaders give no cause for. Every other
    warning still shows."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(drop_tips)
    # alembic, which Optuna's storage imports, logs each of its plugins as it loads.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
        module=r"lightning\.pytorch\.utilities\._pytree",
    )
    warnings.filterwarnings(
        "ignore",
        message=r"Your `IterableDataset` has `__len__` defined",
        module=r"lightning\.pytorch\.utilities\.data",
    )
