"""Compatibility name: the covariance step lives in :mod:`hccrad.models.covariance` (the pipeline adds it to
bundles; the pipeline must not import the serving layer)."""

from hccrad.models.covariance import add_covariance

__all__ = ["add_covariance"]
