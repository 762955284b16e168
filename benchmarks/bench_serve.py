"""Benchmark of ``hccrad serve`` under abuse (issue 20): requests/s and p50/p99 latency of ``POST /api/predict``
at 1 and 20 concurrent clients, without and with abuse running the whole time:

* one oversized *unauthenticated* upload after another (multipart, ``Content-Length`` 150 MiB, the client
  sending as fast as the server takes it), and
* one huge JSON request after another (authenticated, 200 000 unknown keys, about 2.6 MB),

each started again ``--pause`` seconds (0.05 by default) after the previous one was answered (``--pause 0``:
back to back, which on a small machine mostly measures the abusing process's own CPU use).

The server is ``hccrad serve`` (the CLI entry point) in its own process on 127.0.0.1 with a token and
a small logistic bundle fitted on synthetic data; the abusers run in another process, the measured clients are
threads with one keep-alive ``httpx.Client`` each. Runs without and with abuse alternate ``--repeats`` times
(3) per concurrency and their latencies are pooled, so that drift of a shared machine hits both alike. Reported: the table, the p99 ratio with/without abuse at
each concurrency (must be <= 2) and the server's peak resident memory (``VmHWM`` of /proc/PID/status, must be
< 600 MB). Not a test: run it by hand, ``python benchmarks/bench_serve.py [--requests 400]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

TOKEN = "bench-token-0123456789"
PATIENT = {"TBIL": 18.5, "AFP": 2.7, "VP": 1}
P99_RATIO_MAX, RSS_MAX_MB = 2.0, 600


def small_bundle(folder: Path) -> Path:
    from hccrad.models import build_model_pipeline
    from hccrad.models.bundle import ModelBundle, bundle_from_pipeline

    rng = np.random.default_rng(7)
    n = 90
    X = pd.DataFrame({"TBIL": rng.gamma(4.0, 5.0, n), "AFP": rng.normal(2.0, 1.0, n),
                      "VP": rng.integers(0, 2, n).astype(float)})
    eta = -0.5 + 0.9 * X.VP - 0.06 * (X.TBIL - 20) + 0.7 * (X.AFP - 2)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    pipe = build_model_pipeline(list(X.columns), steps=["scale", "logistic"]).fit(X, y)
    bundle = bundle_from_pipeline(pipe, X, y, "bench", units={"TBIL": "µmol/L", "AFP": "log10 ng/mL", "VP": "0/1"},
                                  thresholds={"youden": 0.5})
    return ModelBundle({**bundle.spec, "allowed_values": {"VP": [0, 1]}}).save(folder / "bench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(bundle: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "HCCRAD_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-c", "from hccrad.cli import entry; entry()", "serve", str(bundle),
                             "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/model", headers={"X-Hccrad-Token": TOKEN}, timeout=1).is_success:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(VmHWM, VmRSS) of a process in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    kb = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith(("VmHWM", "VmRSS"))}
    return kb["VmHWM"] / 1024, kb["VmRSS"] / 1024


# ---- abusers (run in their own process) ----------------------------------------------------------------------

def _oversized_upload(port: int, stop) -> int:
    """Unauthenticated multipart upload declaring 150 MiB, sent until the server closes; returns the status."""
    head = (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {150 * 2**20}\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\n\r\n").encode()
    chunk = b"\0" * (1 << 20)
    status = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        try:
            for _ in range(150):
                if stop.is_set():
                    break
                s.sendall(chunk)
        except OSError:  # the server answered and closed: expected
            pass
        try:
            status = int(s.recv(64).split()[1])
        except (OSError, IndexError, ValueError):
            status = -1
    return status


def _huge_json(port: int, body: bytes) -> int:
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/api/predict", content=body, timeout=30,
                       headers={"X-Hccrad-Token": TOKEN, "Content-Type": "application/json"})
        return r.status_code
    except httpx.HTTPError:  # the server may close while the body is still being sent
        return -1


def abuse(port: int, stop, counts, pause: float) -> None:
    """One oversized unauthenticated upload and one huge JSON in flight at a time, each started again
    ``pause`` seconds after the previous one was answered, until ``stop``."""
    body = json.dumps({**PATIENT, **{f"junk_key_{i:06d}": 1 for i in range(200_000)}}).encode()

    def uploads():
        while not stop.is_set():
            key = "upload_" + str(_oversized_upload(port, stop))
            counts[key] = counts.get(key, 0) + 1
            stop.wait(pause)

    def jsons():
        while not stop.is_set():
            key = "json_" + str(_huge_json(port, body))
            counts[key] = counts.get(key, 0) + 1
            stop.wait(pause)

    threads = [threading.Thread(target=uploads), threading.Thread(target=jsons)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# ---- measured clients ----------------------------------------------------------------------------------------

def measure(port: int, clients: int, per_client: int) -> dict:
    """Latencies (s) of ``clients`` threads each sending ``per_client`` requests, wall time and non-200 count."""
    latencies: list[float] = []
    errors = []
    lock = threading.Lock()

    def client():
        mine = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-Hccrad-Token": TOKEN}, timeout=30) as c:
            c.post("/api/predict", json=PATIENT)  # warm the connection
            for _ in range(per_client):
                t0 = time.perf_counter()
                r = c.post("/api/predict", json=PATIENT)
                mine.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors.append(r.status_code)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latencies": latencies, "wall": time.perf_counter() - t0, "errors": len(errors)}


def pooled(runs: list[dict]) -> dict:
    """requests, requests/s, p50 and p99 (ms) over the latencies of several runs."""
    lat = np.concatenate([np.asarray(r["latencies"]) for r in runs]) * 1000
    return {"requests": len(lat), "rps": len(lat) / sum(r["wall"] for r in runs),
            "p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)),
            "errors": sum(r["errors"] for r in runs)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=600, help="requests per run (split among the clients)")
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs without/with abuse per concurrency")
    ap.add_argument("--pause", type=float, default=0.05,
                    help="seconds between one abusive request's answer and the next (0: back to back)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bundle = small_bundle(Path(tmp))
        port = free_port()
        server = start_server(bundle, port)
        try:
            rows, ratios = [], {}
            manager = mp.Manager()
            abuse_counts = manager.dict()
            for clients in (1, 20):
                per = max(1, args.requests // clients)
                runs: dict[bool, list[dict]] = {False: [], True: []}
                for _ in range(args.repeats):  # alternate, so that drift of the machine hits both alike
                    for abused in (False, True):
                        stop = mp.Event()
                        abuser = None
                        if abused:
                            abuser = mp.Process(target=abuse, args=(port, stop, abuse_counts, args.pause),
                                                daemon=True)
                            abuser.start()
                            time.sleep(1.0)  # let the abuse get going
                        runs[abused].append(measure(port, clients, per))
                        if abuser is not None:
                            stop.set()
                            abuser.join(timeout=60)
                            if abuser.is_alive():
                                abuser.terminate()
                res = {abused: pooled(r) for abused, r in runs.items()}
                rows += [(clients, "no", res[False]), (clients, "yes", res[True])]
                ratios[clients] = res[True]["p99"] / res[False]["p99"]
            hwm, rss = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)

    print(f"hccrad serve benchmark: POST /api/predict on 127.0.0.1 (python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs)")
    print(f"{'clients':>7}  {'abuse':>5}  {'requests':>8}  {'req/s':>8}  {'p50 ms':>8}  {'p99 ms':>8}  {'non-200':>7}")
    for clients, abused, r in rows:
        print(f"{clients:>7}  {abused:>5}  {r['requests']:>8}  {r['rps']:>8.1f}  {r['p50']:>8.2f}  {r['p99']:>8.2f}"
              f"  {r['errors']:>7}")
    print(f"abuse: one upload and one huge JSON at a time, {args.pause:g} s apart; answered (status: count): " + ", ".join(f"{k}: {v}" for k, v in sorted(abuse_counts.items())))
    ok = True
    for clients, ratio in ratios.items():
        good = ratio <= P99_RATIO_MAX
        ok &= good
        print(f"p99 ratio with/without abuse at {clients:>2} client(s): {ratio:.2f} (limit {P99_RATIO_MAX:g}) "
              f"{'PASS' if good else 'FAIL'}")
    good = hwm < RSS_MAX_MB
    ok &= good
    print(f"server peak RSS (VmHWM): {hwm:.0f} MB, current {rss:.0f} MB (limit {RSS_MAX_MB} MB) "
          f"{'PASS' if good else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
