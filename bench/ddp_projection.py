#!/usr/bin/python3
"""Projected DDP scaling efficiency of ResNet-18/50 on 8..512 GPUs (issue 5), from the ring model.

Usage: /usr/bin/python3 bench/ddp_projection.py [--latency-us=5] [--bucket-mib=25]

All-reduce of S bytes over n GPUs, ring algorithm, per-link bandwidth B, per-step latency a:
    T(S) = 2(n-1)/n * S / B + 2(n-1) * a
Assumptions (each one a parameter below):
  * Gradients in fp32 (PyTorch-style DDP all-reduces fp32 gradients also under mixed precision):
    ResNet-18 11.7M parameters = 46.8 MB, ResNet-50 25.6M = 102.4 MB.
  * Compute per step per GPU, H100, batch 256 per GPU (weak scaling: the per-GPU batch is fixed):
    ResNet-50 0.25 s in fp32/TF32 (~1,000 images/s) and 0.09 s with mixed precision
    (~2,800 images/s); ResNet-18 scaled by forward FLOPs per image, 1.8 / 4.1 GFLOP.
  * Backward is 2/3 of the step (it costs about twice the forward).
  * Buckets of 25 MiB filled in reverse registration order (the order backward produces the
    gradients); the last bucket holds the remainder. A bucket is ready when its last gradient
    is; gradient bytes are taken to become ready uniformly over backward time. For ResNets this is
    pessimistic: most parameters sit in the last stage, whose gradients come first.
  * One communication stream: bucket i starts at max(ready_i, end of bucket i-1). The exposed
    communication is what runs past the end of backward. The last bucket (the first layers'
    gradients) is ready only when backward ends, so at least its all-reduce is always exposed;
    when the earlier buckets finish inside backward, exposed = T(last bucket) exactly: "all but
    the last bucket overlaps".
  * No-overlap worst case: every bucket is all-reduced one after another after backward.
  * Efficiency = t_compute / (t_compute + exposed communication); optimizer step and data loading
    are left out (both are per-GPU work that does not change with n).
  * Flat ring over all n GPUs: the latency term grows as 2(n-1)a, 5.1 ms per all-reduce at
    n = 512 and 5 us. NCCL switches to trees / hierarchical rings at that scale, so the model is
    pessimistic in latency for large n.
"""
import sys

MB = 1e6
MiB = float(1 << 20)

MODELS = {  # name: (gradient bytes, forward GFLOP per image)
    "ResNet-18": (11.7e6 * 4, 1.8),
    "ResNet-50": (25.6e6 * 4, 4.1),
}
RESNET50_STEP_S = {"fp32/TF32": 0.25, "mixed precision": 0.09}  # H100, batch 256 per GPU
LINKS_GBPS = [25.0, 100.0]
GPUS = [8, 16, 32, 64, 128, 256, 512]
BACKWARD_FRACTION = 2.0 / 3.0


def ring_time(size, n, bw, lat):
    return 2.0 * (n - 1) / n * size / bw + 2.0 * (n - 1) * lat


def buckets(total, cap):
    full = int(total // cap)
    rest = total - full * cap
    return [cap] * full + ([rest] if rest > 0 else [])


def exposed_comm(total, t_compute, n, bw, lat, cap):
    """(exposed with overlap, exposed without overlap, total all-reduce time), seconds."""
    t_bwd = BACKWARD_FRACTION * t_compute
    t_fwd = t_compute - t_bwd
    end, done_bytes, serial = 0.0, 0.0, 0.0
    for b in buckets(total, cap):
        done_bytes += b
        ready = t_fwd + t_bwd * done_bytes / total
        t = ring_time(b, n, bw, lat)
        end = max(ready, end) + t
        serial += t
    return max(0.0, end - t_compute), serial, serial


def efficiency(t_compute, exposed):
    return t_compute / (t_compute + exposed)


def main(argv):
    lat = 5e-6
    cap = 25 * MiB
    for a in argv:
        if a.startswith("--latency-us="):
            lat = float(a.split("=", 1)[1]) * 1e-6
        elif a.startswith("--bucket-mib="):
            cap = float(a.split("=", 1)[1]) * MiB
    print(f"ring model, per-step latency {lat * 1e6:g} us, buckets {cap / MiB:g} MiB, "
          f"backward {BACKWARD_FRACTION:.2f} of the step; efficiency overlapped / no overlap")
    for name, (grad, _) in MODELS.items():
        sizes = ", ".join(f"{b / MB:.1f}" for b in buckets(grad, cap))
        print(f"  {name}: {grad / MB:.1f} MB of gradients in buckets of {sizes} MB")
    for prec, r50_step in RESNET50_STEP_S.items():
        steps = {m: r50_step * flops / MODELS["ResNet-50"][1] for m, (_, flops) in MODELS.items()}
        desc = ", ".join(f"{m} {t * 1e3:.0f} ms" for m, t in steps.items())
        print(f"\n{prec}: compute per step per GPU {desc}")
        cols = [(m, bw) for m in MODELS for bw in LINKS_GBPS]
        print(f"{'GPUs':>5} " + " ".join(f"{m + ' ' + format(bw, 'g') + ' GB/s':>20}" for m, bw in cols))
        for n in GPUS:
            cells = []
            for m, bw in cols:
                t_c = steps[m]
                exp, serial, _ = exposed_comm(MODELS[m][0], t_c, n, bw * 1e9, lat, cap)
                cells.append(f"{100 * efficiency(t_c, exp):>8.1f}% / {100 * efficiency(t_c, serial):>5.1f}%")
            print(f"{n:>5} " + " ".join(f"{c:>20}" for c in cells))
        print("  at 512 GPUs, ms: all-reduce of all buckets / exposed with overlap")
        for m, bw in cols:
            exp, serial, _ = exposed_comm(MODELS[m][0], steps[m], 512, bw * 1e9, lat, cap)
            print(f"    {m} {bw:g} GB/s: {serial * 1e3:.1f} / {exp * 1e3:.1f}")

    # Calibration against Horovod (Sergeev & Del Balso 2018): ResNet-101 on 512 P100s (128 servers
    # x 4), 25 Gbit/s RoCE, ~88-90% efficiency. Assumed: 44.5M params = 178 MB fp32, ~130 images/s per
    # P100 at batch 64 (tf_cnn_benchmarks order of magnitude) = 0.49 s per step, 64 MiB fusion buffer,
    # 3.125 GB/s per ring link (one NIC per server carries the ring's inter-server edge).
    t_c, grad, bw, hcap = 64 / 130.0, 44.5e6 * 4, 3.125e9, 64 * MiB
    exp, serial, _ = exposed_comm(grad, t_c, 512, bw, lat, hcap)
    print(f"\ncalibration, Horovod ResNet-101 on 512 P100s at 25 Gbit/s (published ~90%): model gives "
          f"{100 * efficiency(t_c, exp):.1f}% overlapped, {100 * efficiency(t_c, serial):.1f}% without overlap "
          f"(step {t_c * 1e3:.0f} ms, all-reduce {serial * 1e3:.0f} ms, exposed {exp * 1e3:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
