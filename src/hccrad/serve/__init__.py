"""Clinician-facing web page and JSON API for a model bundle (``hccrad serve BUNDLE``); see docs/serve.md.

``create_app`` and ``serve`` are imported lazily, so ``import hccrad.serve`` works without the optional web
dependencies (requirements/serve.txt) until they are used.
"""

__all__ = ["create_app", "serve"]


def __getattr__(name: str):
    if name in __all__:
        from hccrad.serve import app  # lazy: FastAPI (optional) is imported only when serving

        return getattr(app, name)
    raise AttributeError(f"module 'hccrad.serve' has no attribute {name!r}")
