"""Train a small PyTorch model on a class-folder dataset with gpuaug's augmentation.

    python examples/torch_loop.py [--data DIR] [--epochs 2] [--device cuda]

gpuaug batches and augments on the GPU itself (one kernel per batch), so no
``DataLoader`` with worker processes is needed: the iterator yields whole batches as
torch tensors on the generator's device, labels included (``output="torch"``).
``it.one_epoch()`` is the finite loop (``for x, y in it:`` never ends, as in Keras).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

import gpuaug
from gpuaug.datasets import make_sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="class-folder dataset (default: a synthetic one)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--size", type=int, default=64, help="images are resized to size x size")
    ap.add_argument("--device", default="auto", help="'auto', 'cpu' or 'cuda'")
    args = ap.parse_args()
    data = args.data or make_sample(Path(tempfile.mkdtemp()) / "shapes", per_class=12)

    gen = gpuaug.ImageDataGenerator(rotation_range=20, horizontal_flip=True, zoom_range=0.1,
                                    rescale=1 / 255, device=args.device,
                                    output_data_format="channels_first")  # NCHW for torch
    it = gen.flow_from_directory(str(data), target_size=(args.size, args.size), batch_size=16,
                                 class_mode="sparse", seed=0, output="torch")
    device = "cuda" if gen.device.startswith("cuda") else "cpu"
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(8, it.num_classes)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(args.epochs):
        total, seen = 0.0, 0
        for x, y in it.one_epoch():  # x: float32 NCHW, y: int labels, on `device`
            loss = torch.nn.functional.cross_entropy(model(x), y.long())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            seen += len(y)
        print(f"epoch {epoch + 1}: {seen} images, mean loss {total / seen:.3f}")


if __name__ == "__main__":
    main()
