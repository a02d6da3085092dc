"""``gpuaug info``: versions, devices and decoders, and why not where not."""

from __future__ import annotations

import platform

from ..environment import (
    cuda_status,
    dali_status,
    distribution_version,
    install_hint,
    module_version,
)


def report() -> list[tuple[str, str]]:
    """``(label, value)`` lines describing this installation."""
    import gpuaug

    lines = [("gpuaug", gpuaug.__version__), ("python", platform.python_version())]
    for label, module in (("numpy", "numpy"), ("pillow", "PIL"), ("cupy", "cupy"),
                          ("nvidia-dali", "nvidia.dali"), ("torch", "torch"), ("keras", None)):
        # Importing Keras would import its backend: report the metadata instead.
        value = distribution_version(label) if module is None else module_version(module)
        lines.append((label, value or "not installed"))
    lines.append(("nvidia driver", install_hint()))
    usable, reason = cuda_status()
    if usable:
        import cupy

        lines.append(("cuda driver", str(cupy.cuda.runtime.driverGetVersion())))
        lines.append(("cuda runtime", str(cupy.cuda.runtime.runtimeGetVersion())))
        for i in range(cupy.cuda.runtime.getDeviceCount()):
            props = cupy.cuda.runtime.getDeviceProperties(i)
            name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
            lines.append((f"device cuda:{i}", f"{name}, {props['totalGlobalMem'] / 2**30:.0f} GiB"))
    lines.append(("device cpu", "usable (NumPy reference backend)"))
    lines.append(("device cuda", "usable" if usable else f"not usable: {reason}"))
    dali_ok, dali_reason = dali_status()
    lines.append(("decoder pillow", "usable (Keras's load_img exactly)"))
    lines.append(("decoder dali cpu", "usable" if dali_ok else f"not usable: {dali_reason}"))
    mixed = "usable" if (dali_ok and usable) else (
        f"not usable: {dali_reason if not dali_ok else 'needs a usable CUDA device (above)'}")
    lines.append(("decoder dali mixed", mixed))
    default = "cuda:0" if usable else "cpu"
    lines.append(("device='auto' picks", default))
    return lines
