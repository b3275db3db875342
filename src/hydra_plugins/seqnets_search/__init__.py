"""seqnets' Hydra plugins: Hydra takes sweepers only from the hydra_plugins package."""
