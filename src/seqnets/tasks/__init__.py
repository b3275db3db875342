"""Sequence tasks as Lightning data modules: each says its input size, classes and readout."""
