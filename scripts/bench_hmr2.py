#!/usr/bin/env python
"""HMR 2.0 network speed: our path against a 4D-Humans-style loop, same weights, one process.

    python scripts/bench_hmr2.py [--json report.json]   # the released size, on the GPU (random weights)
    python scripts/bench_hmr2.py --tiny --crops 64 --device cpu   # a smoke run anywhere

Baseline (what 4D-Humans' demo does): batches of 8 crops in fp32, one frame's
people at a time. Ours: large batches under bf16 autocast, eager at several batch
sizes and ``torch.compile`` in several modes (CUDA graphs among them), each timed
after its first call; the fastest is reported. Reported per variant: crops per
second, ratio to the baseline, model FLOP utilisation against a measured bf16
matmul peak on the same device, compile time, and the largest joint-rotation
difference from the fp32 baseline's outputs (degrees).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from mocap.estimators.hmr2.model import HMR2, HMR2Config  # noqa: E402


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device, repeat=3):
    fn()  # warm-up (and compilation)
    sync(device)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def matmul_peak(device, dtype=torch.bfloat16, n=8192):
    """Measured dense matmul FLOP/s at this dtype (the practical peak)."""
    if not device.startswith("cuda"):
        n = 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    seconds = timed(lambda: [a @ b for _ in range(10)], device)
    return 10 * 2 * n**3 / seconds


def model_flops(model: HMR2, device) -> float:
    """FLOPs of one crop's forward pass, counted by torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 3, 256, 256, device=device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


def angle_deg(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest rotation angle between matching (…, 3, 3) rotations, degrees."""
    rel = a.transpose(-1, -2) @ b
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)
    return float(torch.rad2deg(torch.acos(cos)).max())


def variants(model, device: str, batch_sizes: list[int], compile_modes: list[str]) -> dict:
    """Our candidate paths, each (batch size, callable model): bf16 autocast eager at each batch
    size, then ``torch.compile`` in each mode at the largest one (``reduce-overhead`` = CUDA graphs)."""
    out = {f"bf16 eager b{b}": (b, model) for b in batch_sizes}
    if device.startswith("cuda"):
        for mode in compile_modes:
            out[f"bf16 compile[{mode}] b{max(batch_sizes)}"] = (
                max(batch_sizes), torch.compile(model, mode=None if mode == "default" else mode, dynamic=False))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--crops", type=int, default=512, help="crops per timed pass")
    ap.add_argument("--batch-sizes", default="64,128,256", help="our batch sizes to try (eager)")
    ap.add_argument("--compile-modes", default="default,max-autotune-no-cudagraphs,reduce-overhead",
                    help="torch.compile modes to try on a GPU ('' for none)")
    ap.add_argument("--tiny", action="store_true", help="the small test network instead of ViT-H")
    ap.add_argument("--json", metavar="FILE", help="also write the report here")
    args = ap.parse_args()
    device = args.device
    torch.manual_seed(0)
    model = HMR2(HMR2Config.tiny() if args.tiny else HMR2Config()).to(device).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    crops = torch.randn(args.crops, 3, 256, 256, device=device)

    def baseline():  # 4D-Humans' demo loop: batch 8, fp32
        with torch.no_grad():
            return [model(crops[i:i + 8]) for i in range(0, len(crops), 8)]

    def bf16(fn, batch):
        def one(x):
            # CUDA graphs (reduce-overhead) reuse their output memory on the next call: copy out.
            torch.compiler.cudagraph_mark_step_begin()
            return {k: v.clone() for k, v in fn(x).items()}

        def run():
            with torch.inference_mode(), torch.autocast(device.split(":")[0], dtype=torch.bfloat16):
                return [one(crops[i:i + batch]) for i in range(0, len(crops), batch)]
        return run

    t_base = timed(baseline, device)
    with torch.no_grad():
        ref = torch.cat([o["rotations"] for o in baseline()])
    sizes = [int(b) for b in args.batch_sizes.split(",") if b]
    modes = [m for m in args.compile_modes.split(",") if m]
    rows = []
    for name, (batch, fn) in variants(model, device, sizes, modes).items():
        run = bf16(fn, batch)
        t = time.perf_counter()
        try:
            seconds = timed(run, device)  # its first call (and compilation) is not timed
            got = torch.cat([o["rotations"].float() for o in run()])
        except Exception as exc:  # a compile mode that fails here is reported, not fatal
            rows.append({"variant": name, "error": f"{type(exc).__name__}: {exc}"[:200]})
            continue
        rows.append({"variant": name, "crops_per_s": round(args.crops / seconds, 1),
                     "speedup": round(t_base / seconds, 2), "first_call_s": round(time.perf_counter() - t, 1),
                     "max_rotation_diff_vs_fp32_deg": round(angle_deg(ref, got), 3)})
    flops = model_flops(model, device)
    # The device's practical peak is its fastest dense matmul: bf16 on a GPU; on a CPU without
    # bf16 units, bf16 is emulated and slower than fp32 (MFU against it would exceed 1).
    peak = max(matmul_peak(device, torch.bfloat16), matmul_peak(device, torch.float32))
    timed_rows = [r for r in rows if "crops_per_s" in r]
    best = max(timed_rows, key=lambda r: r["crops_per_s"])
    for r in timed_rows:
        r["mfu"] = round(flops * r["crops_per_s"] / peak, 3)
    report = {
        "device": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        "torch": torch.__version__, "network": "tiny" if args.tiny else "ViT-H/16 HMR 2.0", "crops": args.crops,
        "gflop_per_crop": round(flops / 1e9, 1), "matmul_peak_tflops": round(peak / 1e12, 1),
        "baseline_crops_per_s": round(args.crops / t_base, 1), "best": best["variant"],
        "ours_crops_per_s": best["crops_per_s"], "speedup": best["speedup"], "ours_mfu": best["mfu"],
        "max_rotation_diff_bf16_vs_fp32_deg": best["max_rotation_diff_vs_fp32_deg"], "variants": rows,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    for k, v in report.items():
        if k != "variants":
            print(f"{k:<36} {v}")
    print(f"\n| variant | crops/s | x baseline | MFU | first call s | max rot. diff vs fp32 (deg) |\n|---|---|---|---|---|---|")
    print(f"| 4D-Humans loop (fp32, batch 8) | {report['baseline_crops_per_s']} | 1 | - | - | 0 |")
    for r in rows:
        if "error" in r:
            print(f"| {r['variant']} | failed: {r['error']} |")
        else:
            print(f"| {r['variant']} | {r['crops_per_s']} | {r['speedup']} | {r['mfu']} | {r['first_call_s']} | "
                  f"{r['max_rotation_diff_vs_fp32_deg']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
