"""SASS report: what the kernels' machine code predicts about their speed, without a GPU.

Each variant that matters is compiled by NVRTC (the run-time function, the run-time
options) for the architectures of the GPUs people train on, disassembled with
``cuobjdump`` (PyPI: ``nvidia-cuda-cuobjdump``), and read as a model:

- **registers, spills** (``cuobjdump -res-usage``) and the **occupancy** they allow
  (resident warps per SM, with the register file's allocation granularity and the
  256-thread blocks the launcher uses);
- **instructions per output element**, by unit (FP64, FP32, integer/move, memory,
  control), from the loop structure of each kernel: its backward branches nest
  sample > pixel > channel loops; the innermost loop's body runs once per element,
  the pixel loop's body (the channel loop excluded) once per pixel, i.e. ``1 / C`` of
  an element (C = 3); where a path of the pixel loop does all C channels in
  straight-line code (C global stores, or for a reader such as the moments pass every
  channel's taps, the channel loop skipped), that path / C is the other way, and the
  lighter way counts; a thread's setup for a sample (the path
  from the kernel's entry to the pixel loop) counts once per the launch's pixels per
  thread.  The branches inside a loop give many paths: the table shows the
  lightest of those that read every tap (a configuration that takes none of the
  optional steps: no channel shift, brightness or standardization; shortcuts that skip
  the taps, such as a constant-fill pixel outside the image, are not the kernel's work)
  and, in brackets, the heaviest (every optional step at once).  The slow paths the
  compiler moves out of line (``CALL``: division, conversions) are not counted.  A
  static estimate from the machine code, not a trace;
- the **predicted time** of a B = 256 batch of 224x224x3 (uint8 in, float32 out) on
  each GPU of its architecture: the largest of the issue bound (one warp-instruction
  per scheduler per clock), the FP64 bound (the GPU's FP64 lanes) and the memory floor
  (bytes moved over copy bandwidth), and that floor as a fraction of the time.  The
  model assumes latencies hidden; at 25 % occupancy they may not be, which is what the
  occupancy column is for.

Last line: ``sass: classic exact <n> instr/elem <r> regs, fast <n> instr/elem <r> regs <k>
fp64`` (``precision="fast"``: the plain write kernel, all float32).  Device constants are
public specifications (SMs, boost clock, FP64 lanes) and, for bandwidth, the copy rate
measured on an H100 / H200 (``../shared/spec/gpu-notes.md``) or 85 % of the specified
rate where none was measured; a GPU run confirms or corrects the model (issue 11).

Usage: python bench/sass_report.py [--arches sm_75,sm_80,sm_89,sm_90] [--out-dir bench/out]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..backends.cuda.variants import KernelVariant
from ..backends.interface import BLOCK_THREADS
from . import harness

BATCH, SIDE, CHANNELS = 256, 224, 3
UNITS = ("fp64", "fp32", "integer", "memory", "control")


@dataclass(frozen=True)
class Gpu:
    name: str
    arch: str
    sms: int
    clock_ghz: float
    fp64_lanes_per_sm: int  # FP64 results per SM per clock
    copy_tb_s: float  # read + written bytes per second, measured or 85 % of spec
    max_warps_per_sm: int
    bandwidth_note: str


GPUS = (
    Gpu("H100 SXM", "sm_90", 132, 1.98, 64, 3.0, 64, "measured copy"),
    Gpu("H200", "sm_90", 132, 1.98, 64, 4.3, 64, "measured copy"),
    Gpu("L4", "sm_89", 58, 2.04, 2, 0.85 * 0.300, 48, "85 % of 300 GB/s spec"),
    Gpu("T4", "sm_75", 40, 1.59, 2, 0.85 * 0.320, 32, "85 % of 320 GB/s spec"),
)

#: The variants that matter: (label, variant, passes timed).  Classic = the demo's: no
#: channel shift or brightness, nothing after the warp but the rescale, so the host launches
#: the plain write kernel (all-float32 in the fast precision); "general kernel" is the
#: same configuration through the kernel that takes every optional step.
_CLASSIC = dict(in_dtype="uint8", out_dtype="float32", work_dtype="float32", order=1,
                fill_mode="nearest", out_chw=False)


def _variant(**changes: Any) -> KernelVariant:
    return KernelVariant(**{**_CLASSIC, **changes})


VARIANTS = (
    ("classic exact", _variant(), ("write_plain",)),
    ("classic fast", _variant(precision="fast"), ("write_plain",)),
    ("general kernel", _variant(), ("write",)),
    ("reflect", _variant(fill_mode="reflect"), ("write_plain",)),
    ("wrap", _variant(fill_mode="wrap"), ("write_plain",)),
    ("constant", _variant(fill_mode="constant"), ("write_plain",)),
    ("order 0", _variant(order=0), ("write_plain",)),
    ("float32 in", _variant(in_dtype="float32"), ("write_plain",)),
    ("NCHW out", _variant(out_chw=True), ("write_plain",)),
    ("samplewise", _variant(), ("moments_plain", "write_samplewise")),
    ("samplewise general", _variant(), ("moments", "write")),
    # the file iterators' resize fused into the warp: taps read through the index maps
    ("resized exact", _variant(resized=True), ("write_plain",)),
    ("resized fast", _variant(resized=True, precision="fast"), ("write_plain",)),
)


# ------------------------------------------------------------------------ SASS reading
_INSTRUCTION = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(?P<guard>@!?U?P[T0-9]+\s+)?"
                          r"([A-Z][A-Z0-9_.]*)(?P<rest>[^;]*);")


@dataclass(frozen=True)
class Instruction:
    address: int
    opcode: str  # with modifiers, e.g. "DADD" or "F2F.F64.F32"
    operands: str
    predicated: bool = False  # an @P guard: it may not happen


def parse_sass(text: str) -> dict[str, list[Instruction]]:
    """``cuobjdump -sass`` text -> the instructions of each function, by mangled name."""
    functions: dict[str, list[Instruction]] = {}
    current: Optional[list[Instruction]] = None
    for line in text.splitlines():
        header = re.search(r"Function : (\S+)", line)
        if header:
            current = functions.setdefault(header.group(1), [])
            continue
        match = _INSTRUCTION.search(line)
        if match and current is not None:
            current.append(Instruction(int(match.group(1), 16), match.group(3),
                                       match.group("rest").strip(),
                                       match.group("guard") is not None))
    return functions


def unit_of(opcode: str) -> str:
    """The functional unit an instruction issues to (the model's five classes)."""
    base, *modifiers = opcode.split(".")
    if base in ("DADD", "DMUL", "DFMA", "DSETP", "DMNMX", "DSET", "DMMA"):
        return "fp64"
    if base in ("F2F", "F2I", "I2F", "F2I", "FRND") and "F64" in modifiers:
        return "fp64"  # conversions to or from float64 run at the FP64 rate
    if base.startswith(("LDG", "STG", "LDS", "STS", "LDL", "STL", "LD", "ST", "ATOM", "RED",
                        "LDC", "ULDC", "LDGSTS", "CCTL")):
        return "memory"
    if base in ("BRA", "BRX", "JMP", "CALL", "RET", "EXIT", "BSSY", "BSYNC", "BAR", "WARPSYNC",
                "NOP", "YIELD", "BPT", "KILL", "BREAK", "BMOV"):
        return "control"
    if base.startswith(("F", "MUFU", "HADD", "HMUL", "HFMA")) or base in ("I2F", "F2I", "F2F"):
        return "fp32"
    return "integer"


@dataclass
class KernelCounts:
    """A kernel's instructions per output element, by unit, on its lightest and heaviest paths."""

    lightest: dict[str, float] = field(default_factory=dict)
    heaviest: dict[str, float] = field(default_factory=dict)
    loops: int = 0  # depth of the deepest loop nest found


def _target(ins: Instruction) -> Optional[int]:
    """Where a branch goes.  ``CALL.REL.NOINC`` too: into the kernel's body it is how
    sm_80 / sm_89 code leaves a loop (a jump); out of line (a slow path after the last
    EXIT) it is a call that returns, and ``_paths`` lets it fall through."""
    found = re.search(r"0x([0-9a-f]+)", ins.operands)
    jumps = ins.opcode.startswith("BRA") or ins.opcode.startswith("CALL.REL.NOINC")
    return int(found.group(1), 16) if found and jumps else None


Span = tuple[int, int]  # a loop: (first address, back edge's address)


def _paths(body: list[Instruction], lo: int, hi: int, skip: tuple[Span, ...] = (),
           stores: Optional[int] = None, is_tap: Callable[[str], bool] = lambda op: True,
           min_taps: int = 0, enter: bool = False
           ) -> Optional[tuple[dict[str, float], dict[str, float]]]:
    """Unit counts of the lightest and heaviest paths from ``lo`` to the back edge at ``hi``.

    A path also ends at any other branch back to ``lo`` (the compiler may give a loop
    several back edges).  The loop body's branches form a DAG once back edges are dropped
    (addresses only grow along it); instructions inside ``skip`` (inner loops, counted elsewhere)
    weigh nothing.  With ``enter``, only the paths that enter ``skip`` count (a pixel
    loop's way through its channel loop; the way around it, taken when an image has
    no channels, is no pixel's).  The lightest path is the lightest of those that read the most taps
    (global loads that ``is_tap`` accepts by opcode: the input's element loads): a branch
    that skips the taps (a constant-fill pixel outside the image, a sample Keras leaves
    unwarped) is a shortcut few pixels take, not the kernel's work.  With ``stores``,
    only the paths that avoid ``skip`` and take exactly that many global stores count (a
    pixel written by straight-line code, one store per channel; a reader's pixel, which
    stores nothing, with ``stores=0``), and of those only the ones that read at least
    ``min_taps`` taps; None if there is none.
    Dynamic programming in address order, the state being the (stores, taps, entered)
    so far.
    """
    inside = [ins for ins in body if lo <= ins.address <= hi]
    index = {ins.address: i for i, ins in enumerate(inside)}
    cap = 0 if stores is None else stores + 1  # store counts tracked: 0 .. stores, then "more"
    State = tuple[int, int, bool]  # (stores, loads, entered skip)
    best: list[dict[State, tuple[float, dict]]] = [{} for _ in inside]
    worst: list[dict[State, tuple[float, dict]]] = [{} for _ in inside]
    best[0][(0, 0, False)] = worst[0][(0, 0, False)] = (0.0, dict.fromkeys(UNITS, 0.0))
    # The paths' ends, lightest and heaviest by state: at `hi` or another back edge.
    lightest: dict[State, tuple[float, dict]] = {}
    heaviest: dict[State, tuple[float, dict]] = {}

    def keep(paths, state, candidate, better):
        if state not in paths or better(candidate[0], paths[state][0]):
            paths[state] = candidate

    for i, ins in enumerate(inside):
        in_skip = any(first <= ins.address <= last for first, last in skip)
        if stores is not None and in_skip:
            continue  # straight-line pixels never enter the inner loop
        for table, finished, better in ((best, lightest, lambda a, b: a < b),
                                        (worst, heaviest, lambda a, b: a > b)):
            for (count, loads, entered), (total, units) in list(table[i].items()):
                entered = entered or in_skip
                weight = 0.0 if in_skip else 1.0
                units = dict(units)
                units[unit_of(ins.opcode)] += weight
                here = (total + weight, units)
                if cap and ins.opcode.startswith("STG"):
                    count = min(count + 1, cap)
                if weight and ins.opcode.startswith("LDG") and is_tap(ins.opcode):
                    loads += 1
                target = _target(ins)
                if ins.address == hi or target == lo:  # a back edge: the end of a path
                    keep(finished, (count, loads, entered), here, better)
                if ins.address == hi:
                    continue
                # A jump: a BRA, or a CALL.REL.NOINC into the kernel's body (a call out of
                # line returns, and falls through like any other instruction).
                jump = target is not None and (ins.opcode.startswith("BRA")
                                               or body[0].address <= target <= body[-1].address)
                unconditional = jump and not ins.predicated and not re.match(
                    r"^(P|!P|UP|!UP)\d", ins.operands)
                if jump and target > ins.address and target in index:
                    keep(table[index[target]], (count, loads, entered), here, better)
                # A predicated EXIT (a block past the last sample, say) falls through.
                stops = ins.opcode.split(".")[0] in ("EXIT", "RET") and not ins.predicated
                if not unconditional and not stops:
                    if i + 1 < len(inside):
                        keep(table[i + 1], (count, loads, entered), here, better)
    wanted = 0 if stores is None else stores

    def counted(state: State) -> bool:
        return state[0] == wanted and state[1] >= min_taps and (state[2] or not enter)

    light_states = [state for state in lightest if counted(state)]
    if not light_states:
        return None
    most = max(state[1] for state in light_states)
    light = min((lightest[state] for state in light_states if state[1] == most),
                key=lambda entry: entry[0])
    heavy = max((heaviest[state] for state in heaviest if counted(state)),
                key=lambda entry: entry[0])
    return dict(light[1]), dict(heavy[1])


def _through(body: list[Instruction], loop: Span, inner: tuple[Span, ...],
             is_tap: Callable[[str], bool]) -> tuple[dict[str, float], dict[str, float]]:
    """``loop``'s paths that enter one of ``inner`` (a pixel loop's through its channel
    loop, a sample loop's through its pixel loops); an error where there is none, since
    any other path would count no pixel's work."""
    found = _paths(body, *loop, inner, is_tap=is_tap, enter=True)
    if found is None:
        raise RuntimeError(f"gpuaug bench sass: no path through the loop at {loop[0]:#x}-"
                           f"{loop[1]:#x} enters the loops inside it; the model cannot "
                           f"read this kernel's shape")
    return found


def _no_taps(opcode: str) -> bool:
    return False  # a thread's setup reads records, not taps: its plain lightest path


def _setup(body: list[Instruction], loops: set[Span], pixels: tuple[Span, ...]
           ) -> tuple[dict[str, float], dict[str, float]]:
    """A thread's work for one sample outside the pixel loops, lightest and heaviest.

    The sample loop's body without the pixel loops (its record, the sample's constants),
    plus the kernel's entry up to the sample loop (launch constants, indices), each along
    a path through its branches; with no sample loop around it, the entry up to the pixel
    loop.  ``pixels``: the pixel loop with the channel loop first, then any sibling that
    does a pixel's channels in straight-line code.
    """
    pixel = pixels[0]
    around = [lp for lp in loops if lp[0] <= pixel[0] and pixel[1] <= lp[1] and lp != pixel]
    sample = min(around, key=lambda loop: loop[1] - loop[0], default=None)
    head = (sample or pixel)[0]
    light, heavy = dict.fromkeys(UNITS, 0.0), dict.fromkeys(UNITS, 0.0)
    parts = []
    if head > body[0].address:  # the entry, the loop's head excluded (counted in the loop)
        entry = _paths(body, body[0].address, head, is_tap=_no_taps)
        if entry is not None:
            first = next(ins for ins in body if ins.address == head)
            for counts in entry:
                counts[unit_of(first.opcode)] -= 1.0
            parts.append(entry)
    if sample is not None:
        parts.append(_through(body, sample, pixels, _no_taps))
    for part in parts:
        for side, counts in zip((light, heavy), part, strict=True):
            for unit in UNITS:
                side[unit] += counts[unit]
    return light, heavy


_LOAD_SIZES = {"U8", "S8", "U16", "S16", "64", "128"}


def tap_loads(in_dtype: str) -> Callable[[str], bool]:
    """Whether a load opcode reads the input's elements (``LDG.E.U8`` for uint8, ...)."""
    size = {"uint8": "U8", "float16": "U16", "float64": "64"}.get(in_dtype)

    def is_tap(opcode: str) -> bool:
        modifiers = set(opcode.split(".")[1:])
        return size in modifiers if size else not modifiers & _LOAD_SIZES

    return is_tap


def count_per_element(instructions: list[Instruction], channels: int = CHANNELS,
                      pixels_per_thread: Optional[float] = None,
                      is_tap: Callable[[str], bool] = lambda opcode: True,
                      taps_per_channel: int = 1) -> KernelCounts:
    """Instructions per output element of a kernel whose loops nest sample > pixel > channel.

    The innermost loop's body runs once per element, the enclosing loop's body (the
    inner loop excluded) once per pixel, ``1 / channels`` of an element.  Each is
    counted along its lightest and its heaviest path through the branches.  With
    ``pixels_per_thread`` (the launch's pixel-loop trips per thread and sample), the
    path from the kernel's entry to the pixel loop (a thread's setup for a sample: its
    record, the launch constants) counts too, once per that many pixels.
    ``taps_per_channel`` (4 for order 1) tells a reader's straight-line pixel, which
    reads every channel's taps, from a peeled first channel.
    """
    # The kernel proper: the slow paths the compiler moves out of line follow its last EXIT.
    last_exit = max((i for i, ins in enumerate(instructions) if ins.opcode == "EXIT"),
                    default=len(instructions))
    body = instructions[:last_exit + 1]
    # A loop: a head and its last back edge (the compiler may give a loop several).
    ends: dict[int, int] = {}
    for ins in body:
        if (t := _target(ins)) is not None and t <= ins.address:
            ends[t] = max(ends.get(t, t), ins.address)
    loops = set(ends.items())
    if not loops:
        return KernelCounts(dict.fromkeys(UNITS, 0.0), dict.fromkeys(UNITS, 0.0), 0)

    def enclosing(loop):
        return [lp for lp in loops if lp[0] <= loop[0] and loop[1] <= lp[1] and lp != loop]

    # The channel loop is the most deeply nested one (a sample's serial sums, say, are
    # loops too, but inside the sample loop only); the pixel loop the nearest around it.
    inner = max(loops, key=lambda loop: (len(enclosing(loop)), loop[1] - loop[0]))
    outer = min(enclosing(inner), key=lambda loop: loop[1] - loop[0], default=None)
    light, heavy = _paths(body, *inner, is_tap=is_tap)
    if outer is not None:
        light_px, heavy_px = _through(body, outer, (inner,), is_tap)
        for unit in UNITS:
            light[unit] += light_px[unit] / channels
            heavy[unit] += heavy_px[unit] / channels
        # A kernel may also do a pixel's channels in straight-line code (RGB, say),
        # skipping the channel loop: on a branch of the pixel loop, or in a pixel loop of
        # its own beside it (the compiler's unswitching of a test on the channel count).
        # Such a path stores `channels` times (a reader's: none) and reads the taps of
        # every channel, and the lighter of the two ways is the kernel's cost.
        siblings = tuple(loop for loop in loops if loop not in (inner, outer)
                         and enclosing(loop) == enclosing(outer)
                         and not any(other != loop and loop[0] <= other[0]
                                     and other[1] <= loop[1] for other in loops))
        writes = any(ins.opcode.startswith("STG") for ins in body
                     if any(lo <= ins.address <= hi for lo, hi in (outer, *siblings)))
        ways = {"stores": channels if writes else 0, "is_tap": is_tap,
                "min_taps": 0 if writes else channels * taps_per_channel}
        pixels = [outer]
        for loop, skip in ((outer, (inner,)), *((sibling, ()) for sibling in siblings)):
            straight = _paths(body, *loop, skip, **ways)
            if straight is None:
                continue
            if loop != outer:
                pixels.append(loop)
            light_st, heavy_st = ({unit: v / channels for unit, v in side.items()}
                                  for side in straight)
            if sum(light_st.values()) < sum(light.values()):
                light = light_st
            if sum(heavy_st.values()) > sum(heavy.values()):
                heavy = heavy_st
        if pixels_per_thread:
            for side, counts in zip((light, heavy), _setup(body, loops, tuple(pixels)),
                                    strict=True):
                for unit in UNITS:
                    side[unit] += counts[unit] / (pixels_per_thread * channels)
    depth = max(sum(lo <= ins.address <= hi for lo, hi in loops) for ins in body)
    return KernelCounts(light, heavy, depth)


def parse_resources(text: str) -> dict[str, dict[str, int]]:
    """``cuobjdump -res-usage`` text -> {function: {"REG": n, "STACK": n, "LOCAL": n, ...}}."""
    out: dict[str, dict[str, int]] = {}
    current = None
    for line in text.splitlines():
        header = re.search(r"Function (\S+):", line)
        if header:
            current = header.group(1)
            continue
        if current and "REG:" in line:
            out[current] = {k: int(v) for k, v in re.findall(r"([A-Z_]+(?:\[\d+\])?):(\d+)", line)}
    return out


def resident_warps(registers: int, max_warps: int, block_threads: int = BLOCK_THREADS) -> int:
    """Warps per SM that fit the 64 K-register file (256-register allocation per warp)."""
    per_warp = math.ceil(registers * 32 / 256) * 256
    by_registers = 65536 // max(per_warp, 1)
    warps_per_block = block_threads // 32
    blocks = min(by_registers, max_warps) // warps_per_block
    return blocks * warps_per_block


# ------------------------------------------------------------------------ tools and model
def tool(name: str) -> str:
    """``cuobjdump`` / ``nvdisasm``: from the PyPI wheel's bin folder, else PATH."""
    try:
        import nvidia

        for root in nvidia.__path__:
            for candidate in Path(root).glob(f"cu*/bin/{name}"):
                return str(candidate)
    except ImportError:
        pass
    found = shutil.which(name)
    if found is None:
        raise harness.Unavailable(
            f"gpuaug bench sass needs {name}: pip install nvidia-cuda-cuobjdump "
            "nvidia-cuda-nvdisasm (no CUDA toolkit or GPU needed)")
    return found


def compile_variant(variant: KernelVariant, arch: str, folder: Path) -> tuple[Path, dict]:
    try:
        from ..backends.cuda.nvrtc import compile_for_arch

        compiled = compile_for_arch(variant.names(), arch)
    except ImportError as exc:
        raise harness.Unavailable(f"gpuaug bench sass needs NVRTC (CuPy): {exc}") from exc
    path = folder / f"{'_'.join(map(str, (*variant.template_arguments().values(), arch)))}.cubin"
    path.write_bytes(compiled.cubin)
    return path, compiled.lowered


def analyse(variant: KernelVariant, passes: tuple[str, ...], arch: str,
            folder: Path) -> dict[str, Any]:
    """Registers, spills, occupancy and instructions per element of ``passes`` on ``arch``."""
    cuobjdump = tool("cuobjdump")
    # cuobjdump -sass runs nvdisasm, found through NVDISASM_PATH (PATH would miss a wheel's).
    env = dict(os.environ, NVDISASM_PATH=str(Path(tool("nvdisasm")).parent))
    cubin, lowered = compile_variant(variant, arch, folder)
    sass = parse_sass(_run([cuobjdump, "-sass", str(cubin)], env))
    resources = parse_resources(_run([cuobjdump, "-res-usage", str(cubin)], env))
    light, heavy = dict.fromkeys(UNITS, 0.0), dict.fromkeys(UNITS, 0.0)
    registers = spills = 0
    for kernel_pass in passes:
        symbol = lowered[variant.name(kernel_pass)]
        counts = count_per_element(sass[symbol], pixels_per_thread=_pixels_per_thread(),
                                   is_tap=tap_loads(variant.in_dtype),
                                   taps_per_channel=4 if variant.order == 1 else 1)
        for unit in UNITS:
            light[unit] += counts.lightest[unit]
            heavy[unit] += counts.heaviest[unit]
        usage = resources[symbol]
        registers = max(registers, usage["REG"])
        spills = max(spills, usage.get("LOCAL", 0) + usage.get("STACK", 0))
    return dict(arch=arch, registers=registers, spill_bytes=spills, per_element=light,
                per_element_heaviest=heavy, instructions_per_element=sum(light.values()),
                instructions_per_element_heaviest=sum(heavy.values()))


def _pixels_per_thread() -> float:
    """Pixel-loop trips per thread and sample in the launch of B = 256 at 224^2."""
    from ..backends.cuda.launch_args import launch_grid

    grid, block = launch_grid(BATCH, SIDE * SIDE)
    return SIDE * SIDE / (grid[0] * block[0])


def bound_seconds(units: dict[str, float], gpu: Gpu) -> tuple[float, str]:
    """Seconds for B = 256 at 224^2 with ``units`` instructions per element: the worst bound."""
    elements = BATCH * SIDE * SIDE * CHANNELS
    clock = gpu.sms * gpu.clock_ghz * 1e9
    issue = elements * sum(units.values()) / 32 / (4 * clock)  # a warp-instruction per scheduler
    fp64 = elements * units["fp64"] / (gpu.fp64_lanes_per_sm * clock)
    floor = memory_floor(gpu)
    seconds = max(issue, fp64, floor)
    return seconds, {issue: "issue", fp64: "fp64", floor: "memory"}[seconds]


def memory_floor(gpu: Gpu) -> float:
    """Seconds to read the uint8 batch and write it as float32 at the copy bandwidth."""
    return BATCH * SIDE * SIDE * CHANNELS * (1 + 4) / (gpu.copy_tb_s * 1e12)


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"gpuaug bench sass: {' '.join(command)} failed "
                           f"({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def predict(row: dict[str, Any], gpu: Gpu) -> dict[str, Any]:
    """The predicted time on ``gpu``, on the lightest path (and the heaviest, as a range)."""
    seconds, bound = bound_seconds(row["per_element"], gpu)
    heaviest, _ = bound_seconds(row["per_element_heaviest"], gpu)
    warps = resident_warps(row["registers"], gpu.max_warps_per_sm)
    return dict(gpu=gpu.name, seconds=seconds, seconds_heaviest=heaviest, bound=bound,
                floor_fraction=memory_floor(gpu) / seconds, images_per_s=BATCH / seconds,
                occupancy=warps / gpu.max_warps_per_sm)


# ------------------------------------------------------------------------ the benchmark
def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--arches", type=lambda t: [a for a in t.split(",") if a],
                    default=["sm_75", "sm_80", "sm_89", "sm_90"],
                    help="architectures to compile for (default sm_75,sm_80,sm_89,sm_90)")


def run(args: argparse.Namespace) -> tuple[dict, str]:
    rows = []
    jobs = [(label, variant, passes, arch) for arch in args.arches
            for label, variant, passes in VARIANTS]
    with tempfile.TemporaryDirectory(prefix="gpuaug-sass-") as folder:
        for label, variant, passes, arch in harness.progress(jobs, desc="sass"):
            row = analyse(variant, passes, arch, Path(folder))
            row.update(variant=label, predictions=[predict(row, gpu) for gpu in GPUS
                                                   if gpu.arch == arch])
            rows.append(row)
    payload = dict(metadata=harness.metadata(dict(
        benchmark="sass", batch=[BATCH, SIDE, SIDE, CHANNELS], block_threads=BLOCK_THREADS,
        gpus=[asdict(g) for g in GPUS])), results=rows)
    return payload, table(rows) + "\n\n" + summary(rows)


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| variant | arch | regs | spill B | instr/elem (heaviest) | fp64 | fp32 | int | "
             "mem | ctrl | predicted B=256 at 224^2 (heaviest path) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        u = r["per_element"]
        predicted = "; ".join(
            f"{p['gpu']}: {p['seconds'] * 1e6:,.0f} us ({p['seconds_heaviest'] * 1e6:,.0f}), "
            f"{p['bound']}-bound, {p['floor_fraction']:.0%} of the memory floor, "
            f"occupancy {p['occupancy']:.0%}" for p in r["predictions"]) or "-"
        lines.append(f"| {r['variant']} | {r['arch']} | {r['registers']} | {r['spill_bytes']} | "
                     f"{r['instructions_per_element']:.1f} "
                     f"({r['instructions_per_element_heaviest']:.1f}) | {u['fp64']:.1f} | "
                     f"{u['fp32']:.1f} | {u['integer']:.1f} | {u['memory']:.1f} | "
                     f"{u['control']:.1f} | {predicted} |")
    return "\n".join(lines)


def summary(rows: list[dict[str, Any]]) -> str:
    """``sass: classic exact <n> instr/elem <r> regs, fast <n> instr/elem <r> regs <k> fp64``.

    From sm_90 where compiled, else the last architecture.
    """
    def pick(label: str) -> Optional[dict[str, Any]]:
        found = [r for r in rows if r["variant"] == label]
        return next((r for r in found if r["arch"] == "sm_90"), found[-1] if found else None)

    exact, fast = pick("classic exact"), pick("classic fast")
    parts = [f"classic exact {exact['instructions_per_element']:.0f} instr/elem "
             f"{exact['registers']} regs" if exact else "classic exact not compiled"]
    parts.append(f"fast {fast['instructions_per_element']:.0f} instr/elem {fast['registers']} "
                 f"regs {fast['per_element']['fp64']:.0f} fp64" if fast else "fast not compiled")
    return "sass: " + ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    return harness.script_main(argv, __doc__.split("\n\n")[0], add_arguments, run, "sass")
