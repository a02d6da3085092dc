"""Data-parallel training with torchrun: every rank reads its own shard of each epoch.

    torchrun --nproc_per_node=2 examples/torchrun_shards.py [--data DIR] [--epochs 2]

``shard_id="env", num_shards="env"`` read torchrun's RANK and WORLD_SIZE; with
``equal_shards=True`` every rank has the same number of batches (the first samples of
the epoch's order are repeated to pad, as DistributedSampler does), so the gradient
all-reduce never waits for a rank that has finished.  ``rng="keyed"`` gives a sample
the same augmentation whichever rank reads it.  Each rank drives its own GPU
(LOCAL_RANK); on a machine without one the ranks run on the CPU with the gloo backend.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist

import gpuaug
from gpuaug.datasets import make_sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="class-folder dataset (default: a synthetic one)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--size", type=int, default=48)
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, local_rank = dist.get_rank(), int(os.environ.get("LOCAL_RANK", 0))
    data = args.data
    if data is None:  # one copy of the synthetic data, written by rank 0
        paths = [str(make_sample(Path(tempfile.mkdtemp()) / "shapes", per_class=10))
                 if rank == 0 else None]
        dist.broadcast_object_list(paths, src=0)
        data = Path(paths[0])

    device = f"cuda:{local_rank}" if cuda else "cpu"
    gen = gpuaug.ImageDataGenerator(rotation_range=20, horizontal_flip=True, rescale=1 / 255,
                                    device=device, rng="keyed",
                                    output_data_format="channels_first")
    it = gen.flow_from_directory(str(data), target_size=(args.size, args.size), batch_size=8,
                                 class_mode="sparse", seed=0, output="torch",
                                 shard_id="env", num_shards="env", equal_shards=True)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(8, it.num_classes)).to(device)
    model = torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[local_rank] if cuda else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for epoch in range(args.epochs):
        for x, y in it.one_epoch():  # the same number of batches on every rank
            loss = torch.nn.functional.cross_entropy(model(x), y.long())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"rank {rank}: epoch {epoch + 1}, {len(it)} batches, loss {loss.item():.3f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
