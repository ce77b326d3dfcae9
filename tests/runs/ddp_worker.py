"""Run by test_distributed.py in a fresh Python: one tiny training, on one process over the global batch
(``single``), as 2-process DDP with gloo where each rank takes half of the same global batch (``ddp``), or a
sharded DTensor parameter that watch() must refuse (``dtensor``).

    python ddp_worker.py single|ddp|dtensor OUT_FOLDER SCRATCH_FOLDER
"""

import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import adamlab

STEPS, GLOBAL_BATCH = 6, 8


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()


def global_batch(step):
    g = torch.Generator().manual_seed(100 + step)
    return torch.randn(GLOBAL_BATCH, 4, generator=g, dtype=torch.float64), \
        torch.randn(GLOBAL_BATCH, 3, generator=g, dtype=torch.float64)


def train(rank, world, out, scratch):
    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{scratch}/store", rank=rank, world_size=world)
    model = make_model()
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    w = adamlab.watch(model, opt, out, every=1, hist_every=2, bins=32)
    share = GLOBAL_BATCH // world
    for step in range(STEPS):
        x, y = global_batch(step)
        mine = slice(rank * share, (rank + 1) * share)
        loss = torch.nn.functional.mse_loss(model(x[mine]), y[mine])  # the mean over this rank's half
        opt.zero_grad()
        loss.backward()  # DDP averages the ranks' gradients: the gradient of the global batch's mean loss
        opt.step()
        total = loss.detach().clone()
        if world > 1:
            dist.all_reduce(total)
        w.log(step, loss=total.item() / world)
    w.close()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


def refuse_dtensor(out, scratch):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    dist.init_process_group("gloo", init_method=f"file://{scratch}/store", rank=0, world_size=1)
    mesh = init_device_mesh("cpu", (1,))
    layer = torch.nn.Linear(4, 4)
    layer.weight = torch.nn.Parameter(distribute_tensor(layer.weight.detach(), mesh, [Shard(0)]))
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    try:
        adamlab.watch(layer, opt, out)
    except ValueError as e:
        print(e)
    dist.destroy_process_group()


if __name__ == "__main__":
    mode, out, scratch = sys.argv[1:4]
    if mode == "single":
        train(0, 1, out, scratch)
    elif mode == "ddp":
        mp.spawn(train, args=(2, out, scratch), nprocs=2, join=True)
    else:
        refuse_dtensor(out, scratch)
