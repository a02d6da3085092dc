"""Feed a tf.data pipeline (and Keras on TensorFlow) from gpuaug, in one call.

    python examples/tf_data.py [--data DIR] [--epochs 2]

``it.tf_dataset()`` is ``tf.data.Dataset.from_generator`` with the output signature
filled in; one pass over it is one epoch of the iterator's batches.  Its length is
unknown to tf.data, so Keras would stop the first epoch with "Your input ran out of
data": ``.repeat()`` it and give ``model.fit`` ``steps_per_epoch=len(it)``, one pass a
Keras epoch.  ``output="tf"`` hands batches (and labels) to TensorFlow as tensors.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import tensorflow as tf

import gpuaug
from gpuaug.datasets import make_sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="class-folder dataset (default: a synthetic one)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--size", type=int, default=48, help="images are resized to size x size")
    args = ap.parse_args()
    data = args.data or make_sample(Path(tempfile.mkdtemp()) / "shapes", per_class=12)

    gen = gpuaug.ImageDataGenerator(rotation_range=20, horizontal_flip=True, rescale=1 / 255)
    it = gen.flow_from_directory(str(data), target_size=(args.size, args.size), batch_size=16,
                                 class_mode="sparse", seed=0, output="tf")
    # Repeated: an epoch of Keras is steps_per_epoch batches of it, one pass of the iterator.
    dataset = it.tf_dataset().repeat().prefetch(tf.data.AUTOTUNE)
    model = tf.keras.Sequential([
        tf.keras.Input((args.size, args.size, 3)),
        tf.keras.layers.Conv2D(8, 3, activation="relu"),
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(it.num_classes, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(dataset, epochs=args.epochs, steps_per_epoch=len(it), verbose=2)
    print(f"final accuracy {history.history['accuracy'][-1]:.3f}")


if __name__ == "__main__":
    main()
