"""The config tree, installed as the package seqnets.conf: an installed seqnets composes its runs."""
