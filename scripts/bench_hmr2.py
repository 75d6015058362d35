#!/usr/bin/env python
"""HMR 2.0 network speed: our path against a 4D-Humans-style loop, same weights, one process.

    python scripts/bench_hmr2.py                 # the released size, on the GPU (random weights)
    python scripts/bench_hmr2.py --tiny --crops 64 --device cpu   # a smoke run anywhere

Baseline (what 4D-Humans' demo does): batches of 8 crops in fp32, one frame's
people at a time. Ours: large batches, bf16 autocast, ``torch.compile`` where it
pays. Reported: crops per second of each and their ratio; our model FLOP
utilisation against a measured bf16 matmul peak on the same device; and the
largest joint-rotation difference between our bf16 and fp32 outputs (degrees).
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--crops", type=int, default=512, help="crops per timed pass")
    ap.add_argument("--batch-size", type=int, default=128, help="our batch size")
    ap.add_argument("--tiny", action="store_true", help="the small test network instead of ViT-H")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--json", action="store_true")
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

    fast = model
    if device.startswith("cuda") and not args.no_compile:
        fast = torch.compile(model, mode="max-autotune-no-cudagraphs", dynamic=False)

    def ours():
        with torch.inference_mode(), torch.autocast(device.split(":")[0], dtype=torch.bfloat16):
            return [fast(crops[i:i + args.batch_size]) for i in range(0, len(crops), args.batch_size)]

    t_base = timed(baseline, device)
    t_ours = timed(ours, device)
    flops = model_flops(model, device)
    peak = matmul_peak(device)
    with torch.no_grad():
        ref = torch.cat([o["rotations"] for o in baseline()])
    got = torch.cat([o["rotations"].float() for o in ours()])
    report = {
        "device": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        "network": "tiny" if args.tiny else "ViT-H/16 HMR 2.0", "crops": args.crops,
        "baseline_crops_per_s": round(args.crops / t_base, 1), "ours_crops_per_s": round(args.crops / t_ours, 1),
        "speedup": round(t_base / t_ours, 2), "gflop_per_crop": round(flops / 1e9, 1),
        "bf16_matmul_peak_tflops": round(peak / 1e12, 1),
        "ours_mfu": round(flops * args.crops / t_ours / peak, 3),
        "max_rotation_diff_bf16_vs_fp32_deg": round(angle_deg(ref, got), 3),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k:<36} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
