"""Training throughput of a 3-D MobileNet (hccrad.deep) on 96³ crops with 3 channels (issue 9 benchmark).

Prints one row per (device, batch size, precision): training cases/s (forward + backward + SGD step, after
warm-up steps), seconds per step and peak memory (CUDA: torch.cuda.max_memory_allocated; CPU: process
max RSS). Runs on CPU always and on CUDA when present. Not a test.

Run: `python benchmarks/bench_deep.py [--steps 5] [--batch-sizes 2 4] [--width 16] [--size 96] [--threads N]`
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from hccrad.deep.networks import Task, build_network, multitask_loss


def bench(device: torch.device, batch: int, size: int, width: int, steps: int, warmup: int, amp: bool
          ) -> tuple[float, float, float]:
    torch.manual_seed(0)
    net = build_network("mobilenet", 3, (Task("response"), Task("os", 4)), spatial_dims=3, width=width).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    x = torch.randn(batch, 3, size, size, size, device=device)
    y = {"response": torch.randint(0, 2, (batch,), device=device), "os": torch.randint(0, 4, (batch,), device=device)}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    net.train()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, enabled=amp):
            out = net(x)
        loss, _ = multitask_loss(out, y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        mem = torch.cuda.max_memory_allocated() / 2**20
    else:
        mem = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sec = (time.perf_counter() - t) / steps
    return batch / sec, sec, mem


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--gpu-batch-sizes", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--no-cpu", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    if not args.no_cpu:
        for b in args.batch_sizes:
            rows.append(("cpu", b, "fp32", *bench(torch.device("cpu"), b, args.size, args.width, args.steps,
                                                  args.warmup, False)))
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        for b in args.gpu_batch_sizes:
            for amp in (False, True):
                rows.append((f"cuda ({name})", b, "amp" if amp else "fp32",
                             *bench(torch.device("cuda"), b, args.size, args.width, args.steps, args.warmup, amp)))
    print(f"3-D MobileNet (width {args.width}), 3 × {args.size}³ crops, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    print(f"{'device':<32} | {'batch':>5} | {'prec':>4} | {'cases/s':>8} | {'s/step':>7} | {'peak MiB':>8}")
    print("-" * 80)
    for dev, b, prec, cps, sec, mem in rows:
        print(f"{dev:<32} | {b:>5} | {prec:>4} | {cps:>8.2f} | {sec:>7.3f} | {mem:>8.0f}")


if __name__ == "__main__":
    main()
