"""Training throughput of a 3-D MobileNet (hccrad.deep) on 96³ crops with 3 channels (issue 9 benchmark),
and the data path of issue 27 item 4: the old per-item scipy augmentation vs batch augmentation on tensors.

Table 1, one row per (device, batch size, precision): training cases/s (forward + backward + SGD step, after
warm-up steps), seconds per step and peak memory (CUDA: torch.cuda.max_memory_allocated; CPU: process
max RSS).

Table 2, one row per (device, path, workers): cases/s of one epoch over `--items` stored 2-channel crops of
`--aug-size`³ voxels (default 96³), (a) loading + augmentation only, (b) loading + augmentation + training
steps of the 3-D MobileNet (batch `--aug-batch`). "scipy" = the earlier path (each item transformed in the
DataLoader by scipy.ndimage.affine_transform, `hccrad.deep.augment.affine_scipy`); "tensor" = the current
one (stored items loaded, the batch moved to the device and transformed there by grid_sample). On CUDA the
card's name is printed and the tensor path trains with amp "auto".

Runs on CPU always and on CUDA when present. Not a test.

Run: `python benchmarks/bench_deep.py [--steps 5] [--batch-sizes 2 4] [--width 16] [--size 96] [--threads N]
[--items 16] [--aug-size 96] [--aug-batch 4] [--workers 0 2] [--no-train-table]`
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from hccrad.deep.augment import Augmentation, affine_scipy
from hccrad.deep.data import PatchDataset, PatchSet
from hccrad.deep.loading import amp_dtype, train_loader
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


class _ScipyItems(Dataset):
    """The earlier path: item i augmented on the CPU by scipy in __getitem__ (draw from (seed, epoch, i))."""

    def __init__(self, ds: PatchDataset) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        x = self.ds.patches.x[i]
        d = self.ds.augmentation.draws(self.ds.seed, self.ds.epoch, [i], x.shape[0], x.shape[1:])[0]
        return int(i), torch.from_numpy(affine_scipy(x, d)), {k: torch.tensor(v[i]) for k, v in self.ds.targets.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_data_path(path: str, device: torch.device, ds: PatchDataset, batch: int, workers: int, width: int,
                    train: bool) -> float:
    """Cases/s of one epoch (after a warm-up epoch) of loading + augmentation (+ training steps when `train`)."""
    if path == "scipy":
        loader = DataLoader(_ScipyItems(ds), batch_size=batch, shuffle=True, num_workers=workers,
                            pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(0))
    else:
        loader, _ = train_loader(ds, batch_size=batch, seed=0, epoch_seed=lambda e: e, balance_task=None,
                                 num_workers=workers, device=device)
    dtype = amp_dtype("auto", device) if path == "tensor" else None
    torch.manual_seed(0)
    net = build_network("mobilenet", ds.patches.x.shape[1], (Task("response"),), spatial_dims=3,
                        width=width).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    seconds = 0.0
    for epoch in range(2):
        ds.set_epoch(epoch)
        _sync(device)
        t = time.perf_counter()
        for idx, x, y in loader:
            x = x.to(device, non_blocking=True)
            if path == "tensor":
                x = ds.augment_batch(x, idx)
            if train:
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None):
                    loss, _ = multitask_loss(net(x), y)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
        _sync(device)
        seconds = time.perf_counter() - t
    return len(ds) / seconds


def data_path_rows(args) -> list[tuple]:
    rng = np.random.default_rng(0)
    n, size = args.items, args.aug_size
    x = rng.normal(0.5, 0.2, (n, 2, size, size, size)).astype(np.float32)
    ids = tuple(f"c{i}" for i in range(n))
    ps = PatchSet(x, ids, ids, ("arterial", "venous"), "3d", np.zeros((n, 2, 3), int))
    ds = PatchDataset(ps, {"response": np.arange(n) % 2}, augmentation=Augmentation(), seed=0)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        label = "cpu" if device.type == "cpu" else f"cuda ({torch.cuda.get_device_name(0)})"
        workers = args.workers if device.type == "cpu" else sorted({0, *args.workers, 4})
        for path in ("scipy", "tensor"):
            for w in workers:
                load = bench_data_path(path, device, ds, args.aug_batch, w, args.width, train=False)
                step = bench_data_path(path, device, ds, args.aug_batch, w, args.width, train=True)
                prec = "fp32" if path == "scipy" or amp_dtype("auto", device) is None else "amp"
                rows.append((label, path, w, prec, load, step))
    return rows


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
    ap.add_argument("--items", type=int, default=16, help="items per epoch of the data-path table")
    ap.add_argument("--aug-size", type=int, default=96)
    ap.add_argument("--aug-batch", type=int, default=4)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--no-train-table", action="store_true", help="only the data-path table")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    if not args.no_cpu and not args.no_train_table:
        for b in args.batch_sizes:
            rows.append(("cpu", b, "fp32", *bench(torch.device("cpu"), b, args.size, args.width, args.steps,
                                                  args.warmup, False)))
    if torch.cuda.is_available() and not args.no_train_table:
        name = torch.cuda.get_device_name(0)
        for b in args.gpu_batch_sizes:
            for amp in (False, True):
                rows.append((f"cuda ({name})", b, "amp" if amp else "fp32",
                             *bench(torch.device("cuda"), b, args.size, args.width, args.steps, args.warmup, amp)))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    if rows:
        print(f"3-D MobileNet (width {args.width}), 3 × {args.size}³ crops")
        print(f"{'device':<32} | {'batch':>5} | {'prec':>4} | {'cases/s':>8} | {'s/step':>7} | {'peak MiB':>8}")
        print("-" * 80)
        for dev, b, prec, cps, sec, mem in rows:
            print(f"{dev:<32} | {b:>5} | {prec:>4} | {cps:>8.2f} | {sec:>7.3f} | {mem:>8.0f}")
        print()
    data = data_path_rows(args)
    print(f"Data path: {args.items} items of 2 × {args.aug_size}³, batch {args.aug_batch}, geometric augmentation "
          f"(shift, rotation, flips, zoom); cases/s over one epoch")
    print(f"{'device':<32} | {'path':>6} | {'workers':>7} | {'prec':>4} | {'load+aug':>8} | {'+train':>8}")
    print("-" * 82)
    for dev, path, w, prec, load, step in data:
        print(f"{dev:<32} | {path:>6} | {w:>7} | {prec:>4} | {load:>8.2f} | {step:>8.2f}")


if __name__ == "__main__":
    main()
