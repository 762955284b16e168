"""Feature extraction over a cohort: parallel, resumable, with a per-case error table.

`extract_cohort` runs `func(task) -> {feature: value}` for every task, in worker processes
(`concurrent.futures.ProcessPoolExecutor`, default one per core) or on a Dask distributed cluster
(`scheduler="tcp://host:8786"`). Each case's result is written as soon as it arrives, atomically (temporary
file + rename), as JSON under `cache_dir/<config_hash>/<case key>.json`; a rerun with the same config hash
loads those and computes only the missing cases, so a crash or an interrupt loses nothing, and a new
configuration (new hash) is recomputed from scratch beside the old one. A case that raises becomes one row
of the error table (case_id, error_type, message) instead of stopping the batch; errors are not cached, so
the next run retries them. A worker process that dies (segfault, out of memory) breaks the pool; the cases
still pending are then re-run one per fresh process, which pins the crash on the case that causes it.

`func` and the tasks must be picklable (a module-level function; tasks such as paths or small dataclasses).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import tempfile
import traceback
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from hccrad.core.cluster import dask_client
from hccrad.core.errors import InputError
from hccrad.core.files import shareable

logger = logging.getLogger(__name__)

T = TypeVar("T")
ERROR_COLUMNS = ["case_id", "error_type", "message"]
Progress = Callable[[int, int, str], None]

__all__ = ["ExtractionResult", "extract_cohort", "load_cached", "default_n_jobs"]


@dataclass(frozen=True)
class ExtractionResult:
    """features: cases x features (index `case_id`, task order; failed cases absent); errors: one row per
    failed case (case_id, error_type, message); counts of cases loaded from cache and computed now."""

    features: pd.DataFrame
    errors: pd.DataFrame
    config_hash: str
    n_cached: int
    n_computed: int

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "cases_ok": len(self.features), "cases_failed": len(self.errors), "from_cache": self.n_cached,
            "computed": self.n_computed, "features": self.features.shape[1], "config_hash": self.config_hash,
        }])

    def __str__(self) -> str:
        return (f"ExtractionResult: {len(self.features)} case(s) x {self.features.shape[1]} feature(s), "
                f"{len(self.errors)} failed, {self.n_cached} from cache (config {self.config_hash})")


def default_n_jobs() -> int:
    """Cores available to this process (CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _cache_file(cache_dir: Path, config_hash: str, case_key: str) -> Path:
    return Path(cache_dir) / config_hash / (urllib.parse.quote(case_key, safe="") + ".json")


def _write_atomic(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh)  # NaN/inf written as NaN/Infinity (read back by json)
            fh.flush()
            os.fsync(fh.fileno())
        shareable(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_cached(cache_dir: Path, config_hash: str, case_key: str) -> dict[str, float] | None:
    """The cached features of one case, or None when absent or unreadable (then it is recomputed)."""
    path = _cache_file(cache_dir, config_hash, case_key)
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        logger.warning("ignoring unreadable cache file %s (%s); the case is recomputed", path, exc)
        return None
    if payload.get("case_id") != case_key or payload.get("config_hash") != config_hash:
        logger.warning("cache file %s belongs to another case/config; the case is recomputed", path)
        return None
    return {k: float(v) for k, v in payload["features"].items()}


def _run_one(func: Callable[[Any], dict[str, float]], task: Any) -> tuple[str, Any]:
    """Worker body: ("ok", {name: float}) or ("error", (type, message)); never raises."""
    try:
        raw = func(task)
        if not isinstance(raw, dict):
            raise TypeError(f"feature function returned {type(raw).__name__}, expected dict[str, float]")
        return "ok", {str(k): float(v) for k, v in raw.items()}
    except Exception as exc:  # noqa: BLE001 - becomes a row of the error table (traceback in the message)
        tb = traceback.format_exc(limit=-3)
        return "error", (type(exc).__name__, f"{exc}\n{tb}".strip())


def extract_cohort(
    tasks: Sequence[T],
    func: Callable[[T], dict[str, float]],
    cache_dir: Path,
    *,
    key: Callable[[T], str],
    config_hash: str,
    n_jobs: int = -1,
    progress: Progress | None = None,
    scheduler: str | None = None,
) -> ExtractionResult:
    """Run `func` on every task in parallel with a per-case JSON cache (see the module docstring).

    key(task) -> unique case id (cache file name and index of the result); config_hash: identifies the
    feature configuration (e.g. `hccrad.features.radiomics.params_hash(params)`); n_jobs: worker processes
    (-1 = all cores, 1 = in this process); progress(done, total, case_id) is called after every case
    (cached ones included); scheduler: address of a Dask distributed scheduler to run on instead of local
    processes. Raises `InputError` for duplicate keys, an unpicklable `func` or a missing Dask install.
    """
    cache_dir = Path(cache_dir)
    if not config_hash or any(c in config_hash for c in "/\\"):
        raise InputError(f"invalid config_hash {config_hash!r}", field="config_hash",
                         hint="use a hex digest such as radiomics.params_hash(params)")
    keys = [str(key(t)) for t in tasks]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise InputError(f"duplicate case keys {dupes[:5]}", field="key", hint="make key(task) unique per case")
    results: dict[str, dict[str, float]] = {}
    errors: list[dict[str, str]] = []
    total, done = len(tasks), 0

    def _advance(case_key: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, case_key)

    pending: list[tuple[str, T]] = []
    for k, t in zip(keys, tasks):
        cached = load_cached(cache_dir, config_hash, k)
        if cached is None:
            pending.append((k, t))
        else:
            results[k] = cached
            _advance(k)
    n_cached = len(results)
    logger.info("extract_cohort: %d case(s), %d from cache, %d to compute", total, n_cached, len(pending))

    def _record(case_key: str, outcome: tuple[str, Any]) -> None:
        status, value = outcome
        if status == "ok":
            _write_atomic(_cache_file(cache_dir, config_hash, case_key),
                          {"case_id": case_key, "config_hash": config_hash, "features": value})
            results[case_key] = value
        else:
            logger.warning("case %s failed: %s: %s", case_key, value[0], value[1].splitlines()[0])
            errors.append({"case_id": case_key, "error_type": value[0], "message": value[1]})
        _advance(case_key)

    if pending:
        try:
            pickle.dumps(func)
        except Exception as exc:  # noqa: BLE001 - any pickling failure means the same fix
            raise InputError(f"the feature function cannot be sent to worker processes ({exc})", field="func",
                             hint="define it at module level (no lambda / local function)") from exc
        jobs = default_n_jobs() if n_jobs in (-1, 0, None) else int(n_jobs)
        if scheduler is not None:
            _run_dask(pending, func, scheduler, _record)
        elif jobs == 1:
            for k, t in pending:
                _record(k, _run_one(func, t))
        else:
            _run_processes(pending, func, min(jobs, len(pending)), _record)

    order = [k for k in keys if k in results]
    features = pd.DataFrame.from_dict({k: results[k] for k in order}, orient="index")
    features.index.name = "case_id"
    err = pd.DataFrame(errors, columns=ERROR_COLUMNS)
    if len(err):
        err = err.set_index("case_id").loc[[k for k in keys if k in set(err["case_id"])]].reset_index()
    return ExtractionResult(features, err, config_hash, n_cached, total - n_cached)


def _run_processes(pending, func, jobs: int, record: Callable[[str, tuple[str, Any]], None]) -> None:
    remaining = dict(pending)
    try:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(_run_one, func, t): k for k, t in pending}
            while futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for fut in finished:
                    k = futures.pop(fut)
                    outcome = fut.result()  # raises BrokenProcessPool when a worker died
                    remaining.pop(k)
                    record(k, outcome)
    except BrokenProcessPool:
        logger.warning("a worker process died; re-running %d pending case(s) one per process", len(remaining))
        for k, t in remaining.items():
            try:
                with ProcessPoolExecutor(max_workers=1) as solo:
                    outcome = solo.submit(_run_one, func, t).result()
            except BrokenProcessPool:
                outcome = ("error", ("WorkerCrash", "the worker process died while computing this case "
                                     "(segfault or out of memory); try n_jobs=1 to see the error"))
            record(k, outcome)


def _run_dask(pending, func, scheduler: str, record: Callable[[str, tuple[str, Any]], None]) -> None:
    try:
        from distributed import as_completed  # lazy: optional heavy dependency (dask.distributed)
    except ImportError as exc:
        raise InputError("Dask distributed is not installed", field="scheduler",
                         hint='pip install "dask[distributed]" or run without --scheduler') from exc
    with dask_client(scheduler, field="scheduler") as client:  # ClusterError when it cannot be reached
        futures = {client.submit(_run_one, func, t, key=f"hccrad-{k}-{id(func)}", pure=False): k
                   for k, t in pending}
        for fut in as_completed(list(futures)):
            k = futures[fut]
            if fut.status == "error":
                exc = fut.exception()
                record(k, ("error", (type(exc).__name__, f"worker failed: {exc}")))
            else:
                record(k, fut.result())
        logger.info("extract_cohort: %d case(s) ran on Dask scheduler %s", len(pending), scheduler)

