"""Clinician-facing web page and JSON API for a model bundle (``hccrad serve BUNDLE``); see docs/serve.md."""

from hccrad.serve.app import create_app, serve

__all__ = ["create_app", "serve"]
