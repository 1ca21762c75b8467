"""GPU vs CPU trade-offs, measured with PyTorch on the machine it runs on (week 14).

For each square size n: f32 matrix products on the CPU (2 threads, like the workbook's small
machines, and all threads) and on the GPU (strict f32, TF32, bf16), in GFLOP/s (2·n³ flops per
product); the host→device copy of one n × n f32 matrix (pageable and pinned memory); and the
whole round trip a program pays when its data lives on the host: copy A and B over, multiply,
copy C back. Prints a table and writes JSON to the path given as the first argument.

Timing: CUDA events around each product, after warm-ups; the median of the repeats.
"""

import json
import statistics
import sys
import time

import torch


def median_time(fn, repeats, sync):
    for _ in range(3):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "gpu_matmul.json"
    cuda = torch.cuda.is_available()
    nothing = lambda: None
    sync = torch.cuda.synchronize if cuda else nothing
    sizes = [64, 128, 256, 512, 1024, 2048, 4096, 8192]
    rows = []
    all_threads = torch.get_num_threads()
    for n in sizes:
        flops = 2.0 * n**3
        a = torch.randn(n, n)
        b = torch.randn(n, n)
        row = {"n": n}
        reps_cpu = 5 if n <= 2048 else 2
        for threads in (2, all_threads):
            if n > 4096 and threads == 2:
                row[f"cpu_{threads}t_gflops"] = None
                continue
            torch.set_num_threads(threads)
            t = median_time(lambda: a @ b, reps_cpu, nothing)
            row[f"cpu_{threads}t_gflops"] = flops / t / 1e9
        torch.set_num_threads(all_threads)
        if cuda:
            reps = 20
            ag, bg = a.cuda(), b.cuda()
            torch.backends.cuda.matmul.allow_tf32 = False
            row["gpu_f32_gflops"] = flops / median_time(lambda: ag @ bg, reps, sync) / 1e9
            torch.backends.cuda.matmul.allow_tf32 = True
            row["gpu_tf32_gflops"] = flops / median_time(lambda: ag @ bg, reps, sync) / 1e9
            torch.backends.cuda.matmul.allow_tf32 = False
            ah, bh = ag.bfloat16(), bg.bfloat16()
            row["gpu_bf16_gflops"] = flops / median_time(lambda: ah @ bh, reps, sync) / 1e9
            pinned = a.pin_memory()
            row["h2d_pageable_ms"] = 1e3 * median_time(lambda: a.to("cuda"), reps, sync)
            row["h2d_pinned_ms"] = 1e3 * median_time(lambda: pinned.to("cuda", non_blocking=True), reps, sync)
            row["h2d_pinned_gb_per_s"] = 4.0 * n * n / (row["h2d_pinned_ms"] / 1e3) / 1e9
            row["round_trip_ms"] = 1e3 * median_time(lambda: (a.to("cuda") @ b.to("cuda")).cpu(), reps, sync)
            row["round_trip_gflops"] = flops / (row["round_trip_ms"] / 1e3) / 1e9
        rows.append(row)
        print(json.dumps(row), flush=True)
    info = {
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "cpu_threads": all_threads,
        "rows": rows,
    }
    with open(out_path, "w") as f:
        json.dump(info, f, indent=1)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
