"""Train a small Keras model on a class-folder dataset with gpuaug's augmentation.

    KERAS_BACKEND=jax python examples/keras_fit.py [--data DIR] [--epochs 2]

Keras 3 with any backend (JAX, TensorFlow, PyTorch); gpuaug's iterators are
``keras.utils.PyDataset``s, so ``model.fit`` takes them as they are.  ``validation_split``
on the generator and ``subset=`` on the iterators give training and validation sets from
one folder, as in Keras.  Without ``--data`` a small synthetic dataset is written first.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import keras

import gpuaug
from gpuaug.datasets import make_sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="class-folder dataset (default: a synthetic one)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--size", type=int, default=64, help="images are resized to size x size")
    args = ap.parse_args()
    data = args.data or make_sample(Path(tempfile.mkdtemp()) / "shapes", per_class=12)

    gen = gpuaug.ImageDataGenerator(rotation_range=20, width_shift_range=0.1,
                                    height_shift_range=0.1, zoom_range=0.1,
                                    horizontal_flip=True, rescale=1 / 255,
                                    validation_split=0.25)
    common = dict(target_size=(args.size, args.size), batch_size=16, seed=0)
    train = gen.flow_from_directory(str(data), subset="training", **common)
    val = gen.flow_from_directory(str(data), subset="validation", **common)

    model = keras.Sequential([
        keras.Input((args.size, args.size, 3)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(train.num_classes, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=args.epochs, verbose=2)
    print(f"final val_accuracy {history.history['val_accuracy'][-1]:.3f}")


if __name__ == "__main__":
    main()
