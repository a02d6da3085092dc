"""The output adapter: a batch handed to the framework that trains on it (``output=``).

``"auto"`` leaves the batch where the engine computed it: NumPy on the CPU, CuPy on
CUDA.  The others hand the same memory over without a copy where both sides are on
the same device (DLPack); crossing between host and device copies once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .validation import check_choice

OUTPUTS = ("auto", "numpy", "cupy", "torch", "jax", "tf")
_LIBRARIES = {"cupy": "cupy", "torch": "torch", "jax": "jax", "tf": "tensorflow"}


def check_output(output: Any) -> str:
    """``output`` checked at the call: a known name whose library is installed.

    (It failed at the first batch with a bare ModuleNotFoundError.)
    """
    output = check_choice("output", output, OUTPUTS)
    library = _LIBRARIES.get(output)
    if library is not None:
        import importlib.util

        if importlib.util.find_spec(library) is None:
            raise ValueError(f"output={output!r} needs {library}, which is not installed; "
                             "install it, or use output='numpy' or 'auto'")
    return output


def _on_gpu(x: Any) -> bool:
    return hasattr(x, "__cuda_array_interface__")


def to_host(x: Any) -> np.ndarray:
    return x.get() if _on_gpu(x) else np.asarray(x)


def _torch_from_host(a: np.ndarray) -> Any:
    """``torch.from_numpy``, bfloat16 included (torch does not know ml_dtypes' type)."""
    import torch

    a = np.ascontiguousarray(a)
    if a.dtype.name == "bfloat16":
        return torch.from_numpy(a.view(np.uint16)).view(torch.bfloat16)
    return torch.from_numpy(a)


#: Outputs whose labels follow the batch: the same library, on the batch's device.
LABELS_FOLLOW = ("torch", "jax", "tf")


def convert_labels(y: Any, x: Any, output: str) -> Any:
    """Labels (or sample weights) for batch ``x``, already converted to ``output``.

    For "torch", "jax" and "tf", the same library on ``x``'s device, so that
    ``loss(model(x), y)`` needs no conversion; otherwise, and for labels no framework
    holds (strings, objects), NumPy as Keras gives them.  A list (``multi_output``)
    is converted item by item.
    """
    if y is None or output not in LABELS_FOLLOW:
        return y
    if isinstance(y, list):
        return [convert_labels(v, x, output) for v in y]
    y = np.asarray(y)
    if y.dtype.kind in "OUSV":
        return y
    labels = convert(y, output)  # on the host's (or the library's default) device
    if output == "torch" and labels.device != x.device:
        return labels.to(x.device)
    if output == "jax" and labels.devices() != x.devices():
        import jax

        return jax.device_put(labels, next(iter(x.devices())))
    return labels


def convert_batch(x: Any, output: str) -> Any:
    """A batch (NumPy or CuPy) as ``output``'s array, with the same dtype and bits.

    Every hand-off keeps the values as they are (tests/test_output_rounding.py), except one
    that is refused rather than done: JAX outside its 64-bit mode turns float64 into float32.
    """
    if output == "jax" and x.dtype == np.float64:
        import jax

        if not jax.config.jax_enable_x64:
            raise ValueError(
                "output='jax' with a float64 batch (dtype='float64'): JAX without 64-bit mode "
                "would make it float32. Enable that mode first (jax.config.update("
                "'jax_enable_x64', True)), or ask for output_dtype='float32'")
    return convert(x, output)


def convert(x: Any, output: str) -> Any:
    """``x`` (NumPy or CuPy) as the requested library's array."""
    if output == "auto":
        return x
    if output == "numpy":
        return to_host(x)
    if output == "cupy":
        import cupy

        return cupy.asarray(x)
    if output == "torch":
        import torch

        return torch.from_dlpack(x) if _on_gpu(x) else _torch_from_host(x)
    if output == "jax":
        import jax.numpy as jnp

        return jnp.from_dlpack(x) if _on_gpu(x) else jnp.asarray(x)
    if output == "tf":
        import tensorflow as tf

        if _on_gpu(x):
            import cupy

            # The legacy DLPack capsule carries no stream: finish the batch first.
            cupy.cuda.get_current_stream().synchronize()
            return tf.experimental.dlpack.from_dlpack(x.toDlpack())
        return tf.convert_to_tensor(x)
    raise ValueError(check_output(output))
