"""The hyperparameter search (conf/hydra/sweeper/search.yaml): Hydra's Optuna sweeper, from
the `hpo` extra, imported only when a search starts, as Hydra imports this module on every
command."""

import logging
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class Search(Sweeper):
    """Hydra's Optuna sweeper, but a search whose every trial failed ends as any sweep with
    failures does, its summary (seqnets.sweep) listing them, rather than in a traceback: with
    no trial completed, Optuna's study has no best trial to give ("No trials are completed
    yet")."""

    def __init__(self, **settings: Any) -> None:
        from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

        self.optuna = OptunaSweeper(**settings)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.optuna.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        try:
            self.optuna.sweep(arguments)
        except ValueError as err:
            if "No trials are completed" not in str(err):
                raise
            log.error("search: no trial completed, so there is no best")
