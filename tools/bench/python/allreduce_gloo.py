# PyTorch's side of `pnpm bench train --nproc N`: the all-reduce DDP does for one step's gradients
# (the same number of float32 values, in 25 MiB buckets, gloo), timed per step. Launched by torchrun;
# rank 0 prints one JSON line {"allreduce_ms": median, "reps": n}.
import json, os, statistics, sys, time
import torch
import torch.distributed as dist

numel = int(sys.argv[1])
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
torch.set_num_threads(1)
dist.init_process_group("gloo")
bucket = 25 * 1024 * 1024 // 4
grads = [torch.randn(min(bucket, numel - i)) for i in range(0, numel, bucket)]
times = []
for r in range(reps + 2):
    dist.barrier()
    t0 = time.perf_counter()
    for g in grads:
        dist.all_reduce(g)
        g /= dist.get_world_size()
    times.append((time.perf_counter() - t0) * 1000)
if dist.get_rank() == 0:
    print(json.dumps({"allreduce_ms": statistics.median(times[2:]), "reps": reps, "torch": torch.__version__}))
dist.destroy_process_group()
