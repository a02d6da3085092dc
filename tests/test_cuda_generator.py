"""The generator on a real GPU: same seeds, same parameters, pixels within tolerance.

All ``gpu``-marked; without a CUDA device they are skipped with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest

import gpuaug

from fused_backends import assert_matches_reference

pytestmark = pytest.mark.gpu

CONFIG = dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
              zoom_range=0.2, horizontal_flip=True, rescale=1 / 255)


@pytest.mark.parametrize("output_dtype", [None, "float16", "bfloat16", "uint8"])
@pytest.mark.parametrize("output_data_format", [None, "channels_first"])
def test_cuda_generator_matches_cpu_generator(output_dtype, output_data_format):
    import cupy

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (16, 57, 43, 3), dtype=np.uint8)
    kwargs = dict(CONFIG, output_dtype=output_dtype, output_data_format=output_data_format)
    if output_dtype == "uint8":
        kwargs.pop("rescale")
    cpu = gpuaug.ImageDataGenerator(**kwargs, device="cpu")
    gpu = gpuaug.ImageDataGenerator(**kwargs, device="cuda")
    ref, ref_params = cpu.random_transform_batch(x, seed=3)
    out, params = gpu.random_transform_batch(x, seed=3)
    assert isinstance(out, cupy.ndarray)
    assert params.to_dicts() == ref_params.to_dicts()  # parameters exactly
    assert_matches_reference(cupy.asnumpy(out), ref, order=1, fill_mode="nearest", exact=False)


def test_device_batch_stays_on_the_device_and_torch_tensors_are_accepted():
    import cupy

    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    host = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    gen = gpuaug.ImageDataGenerator(**CONFIG, device="cuda")
    params = gen.sampler.draw_batch(gen.random_state, 4, host.shape[1:])
    ref = gpuaug.augment_batch(host, params, gen.config())
    tensor = torch.from_numpy(host).cuda()
    out = gpuaug.augment_batch(tensor, params, gen.config())
    assert isinstance(out, cupy.ndarray) and out.device.id == tensor.device.index
    assert_matches_reference(cupy.asnumpy(out), ref, order=1, fill_mode="nearest", exact=False)


def test_out_of_memory_names_the_buffer_the_batch_and_the_bytes():
    """A real CuPy out-of-memory error, through the real launcher, told in the batch's terms."""
    import cupy

    from gpuaug.backends.cuda import FusedBackend
    from gpuaug.backends.cuda.launcher import CupyLauncher
    from gpuaug.compose import compose_matrices

    launcher = CupyLauncher(0)
    with pytest.raises(MemoryError, match="out of GPU memory on cuda:0"):
        launcher.allocate((1_000_000, 1024, 1024, 3), np.dtype(np.float32))

    class Greedy(CupyLauncher):  # asks the device for a petabyte instead of the output
        def allocate(self, shape, dtype):
            return super().allocate((2**50,), np.dtype(np.uint8))

    backend = FusedBackend(Greedy(0), name="cuda:0")
    gen = gpuaug.ImageDataGenerator(**CONFIG, device="cuda")
    x = cupy.zeros((4, 8, 8, 3), cupy.uint8)
    params = gen.sampler.draw_batch(gen.random_state, 4, x.shape[1:])
    matrices = compose_matrices(params, 8, 8)
    with pytest.raises(MemoryError, match=r"could not allocate the output for a batch of 4 "
                                          r"images of 8x8x3 on cuda:0: 3,072 bytes.*smaller "
                                          r"batch_size.*out of GPU memory"):
        backend.augment(x, matrices, params, gen.config())


def _flow_batches(gen, x, y, count, prefetch):
    it = gen.flow(x, y, batch_size=6, seed=11)
    if not prefetch:
        return [next(it) for _ in range(count)]
    import cupy

    with it.prefetch(depth=2) as batches:
        out = [next(batches) for _ in range(count)]
        cupy.cuda.get_current_stream().synchronize()
        return out


@pytest.mark.parametrize("where", ["host", "cupy", "torch"])
@pytest.mark.parametrize("prefetch", [False, True])
def test_flow_over_host_and_device_datasets_matches_the_cpu(where, prefetch):
    """Pinned staging (two slots reused over 3 epochs) and device gathers, against the CPU."""
    import cupy

    rng = np.random.default_rng(5)
    host = rng.integers(0, 256, (27, 33, 29, 3), dtype=np.uint8)  # 5 batches, the last short
    y = np.arange(27)
    data = {"host": lambda: host, "cupy": lambda: cupy.asarray(host),
            "torch": lambda: pytest.importorskip("torch").from_numpy(host).cuda()}[where]()
    cpu = _flow_batches(gpuaug.ImageDataGenerator(**CONFIG, device="cpu"), host, y, 15, False)
    gpu = _flow_batches(gpuaug.ImageDataGenerator(**CONFIG, device="cuda"), data, y, 15,
                        prefetch)
    for (ref, ref_y), (out, out_y) in zip(cpu, gpu):
        assert isinstance(out, cupy.ndarray)
        np.testing.assert_array_equal(out_y, ref_y)
        assert_matches_reference(cupy.asnumpy(out), ref, order=1, fill_mode="nearest",
                                 exact=False)
