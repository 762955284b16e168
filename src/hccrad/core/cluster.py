"""Connecting to a Dask distributed cluster, with an error that names the spec field when it fails.

:func:`check_scheduler` opens (and closes) a TCP connection to the scheduler address, waiting
:data:`CONNECT_TIMEOUT_S` seconds at most, and raises :class:`hccrad.core.errors.ClusterError` naming the
field (default ``validation.scheduler``) with a hint when the address is malformed or nothing answers; the
study preflight calls it, so a wrong address is refused before any long stage. :func:`dask_client` makes
that check, then yields a ``distributed.Client`` (closed on exit; the cluster itself is left running).
"""

from __future__ import annotations

import socket
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hccrad.core.errors import ClusterError

CONNECT_TIMEOUT_S = 5.0
SCHEDULER_FIELD = "validation.scheduler"
DEFAULT_PORT = 8786

__all__ = ["check_scheduler", "dask_client", "CONNECT_TIMEOUT_S", "SCHEDULER_FIELD"]


def _address_parts(address: str, field: str) -> tuple[str, str | None, int]:
    """(scheme, host, port) of a scheduler address; Dask reads ``host:port`` without a scheme as tcp."""
    parsed = urllib.parse.urlparse(address if "://" in address else f"tcp://{address}")
    hint = 'write the scheduler address as "tcp://host:8786" (what `dask scheduler` prints at start)'
    try:
        port = parsed.port
    except ValueError as exc:
        raise ClusterError(f"{address!r} has an invalid port", field=field, hint=hint) from exc
    if parsed.scheme in ("tcp", "tls") and not parsed.hostname:
        raise ClusterError(f"{address!r} is not a Dask scheduler address (no host)", field=field, hint=hint)
    return parsed.scheme, parsed.hostname, port or DEFAULT_PORT


def check_scheduler(address: str, *, field: str = SCHEDULER_FIELD, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`ClusterError` when nothing accepts a TCP connection at a ``tcp://`` or ``tls://``
    ``address`` within ``timeout`` (other transports, e.g. an in-process ``inproc://`` cluster, are left to
    the ``Client``, whose failure :func:`dask_client` reports the same way)."""
    scheme, host, port = _address_parts(address, field)
    if scheme not in ("tcp", "tls"):
        return
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ClusterError(
            f"the Dask scheduler at {address} cannot be reached ({exc.strerror or type(exc).__name__})",
            field=field, hint="start it (`dask scheduler` on that host, then `dask worker ADDRESS` on each "
            "machine), check host, port and firewall, or remove the setting to run on this machine") from exc


@contextmanager
def dask_client(address: str, *, field: str = SCHEDULER_FIELD) -> Iterator[Any]:
    """A ``distributed.Client`` connected to ``address``; :class:`ClusterError` when it cannot connect."""
    try:
        from distributed import Client  # lazy: optional heavy dependency (dask.distributed)
    except ImportError as exc:  # pragma: no cover - dask[distributed] is pinned in requirements
        raise ClusterError("Dask distributed is not installed", field=field,
                           hint='pip install -r requirements/dask.txt, or remove the setting') from exc
    check_scheduler(address, field=field)
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S * 2)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"the Dask scheduler at {address} refused the connection ({exc})", field=field,
                           hint="check that the address is a Dask scheduler of the same dask version") from exc
    with client:
        yield client
