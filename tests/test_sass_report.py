"""The SASS model reads the kernels' machine code as the report says, and runs in CI.

The parser and the path counting are checked on a hand-written listing whose answer is
known; the whole report on the classic variant compiled by NVRTC and disassembled by
``cuobjdump`` (both from PyPI, no GPU), against the resource usage cuobjdump reports and
properties that hold between variants.
"""

from __future__ import annotations

import argparse
import json
import os
import re

import pytest

from gpuaug.benchmarks import sass
from test_kernel_compile import _nvrtc_or_skip

# Three nested loops: sample (0x10-0xd0), pixel (0x20-0xc0), channel (0x40-0x90); inside
# the channel loop one optional step (0x60-0x70) behind a branch.
LISTING = """
        Function : _Z6kernel
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/                   IMAD R1, R0, 0x2, RZ ;
        /*0020*/                   LDG.E.U8 R2, desc[UR4][R4.64] ;
        /*0030*/                   I2F.F64.U32 R6, R2 ;
        /*0040*/                   DADD R8, R6, R6 ;
        /*0050*/               @P0 BRA 0x80 ;
        /*0060*/                   DMUL R8, R8, R8 ;
        /*0070*/                   FADD R3, R3, 1 ;
        /*0080*/                   STG.E desc[UR4][R10.64], R8 ;
        /*0090*/              @!P1 BRA 0x40 ;
        /*00a0*/                   IADD3 R1, R1, 0x1, RZ ;
        /*00b0*/                   ISETP.GE.AND P2, PT, R1, R12, PT ;
        /*00c0*/              @!P2 BRA 0x20 ;
        /*00d0*/              @!P3 BRA 0x10 ;
        /*00e0*/                   EXIT ;
        /*00f0*/                   MUFU.RCP64H R1, R3 ;
        /*0100*/                   RET.REL.NODEC R20 0x0 ;
"""


def _setup_per_pixel(instructions, **kwargs) -> tuple[float, float]:
    """What a thread's setup adds per element, (lightest, heaviest), at two pixels per thread
    and three channels: a sample's setup instructions over 6."""
    alone = sass.count_per_element(instructions, channels=3, **kwargs)
    spread = sass.count_per_element(instructions, channels=3, pixels_per_thread=2, **kwargs)
    return tuple(sum(getattr(spread, side).values()) - sum(getattr(alone, side).values())
                 for side in ("lightest", "heaviest"))


def test_the_listing_is_read_instruction_by_instruction():
    (name, instructions), = sass.parse_sass(LISTING).items()
    assert name == "_Z6kernel" and len(instructions) == 17
    assert instructions[5].opcode == "BRA" and instructions[5].predicated
    assert [sass.unit_of(i.opcode) for i in instructions[2:5]] == ["memory", "fp64", "fp64"]
    assert sass.unit_of("IMAD.WIDE") == "integer" and sass.unit_of("FFMA") == "fp32"
    assert sass.unit_of("F2F.F32.F64") == "fp64" and sass.unit_of("F2I.TRUNC") == "fp32"


def test_per_element_counts_follow_the_loop_nest_and_both_paths():
    (instructions,) = sass.parse_sass(LISTING).values()
    counts = sass.count_per_element(instructions, channels=3)
    assert counts.loops == 3
    # Channel loop 0x40-0x90: lightest DADD, BRA, STG, BRA (4); heaviest adds DMUL, FADD.
    # Pixel loop 0x20-0xc0 without the channel loop: LDG, I2F.F64, IADD3, ISETP, BRA, per 3.
    assert counts.lightest == pytest.approx(dict(
        fp64=1 + 1 / 3, fp32=0, integer=2 / 3, memory=1 + 1 / 3, control=2 + 1 / 3))
    assert counts.heaviest["fp64"] == pytest.approx(2 + 1 / 3)
    assert counts.heaviest["fp32"] == pytest.approx(1)
    # The out-of-line slow path after EXIT (MUFU, RET) counts nowhere.
    assert sum(counts.heaviest.values()) == pytest.approx(6 + 5 / 3)


def test_a_threads_setup_counts_once_per_its_pixels():
    """Per thread and sample: the entry up to the sample loop (S2R) and the sample loop's
    body without the pixel loop (IMAD at 0x10, the back edge at 0xd0), over its pixels."""
    (instructions,) = sass.parse_sass(LISTING).values()
    alone = sass.count_per_element(instructions, channels=3)
    spread = sass.count_per_element(instructions, channels=3, pixels_per_thread=2)
    assert spread.lightest["integer"] == pytest.approx(alone.lightest["integer"] + 2 / 6)
    assert spread.lightest["control"] == pytest.approx(alone.lightest["control"] + 1 / 6)
    assert sum(spread.heaviest.values()) == pytest.approx(sum(alone.heaviest.values()) + 3 / 6)
    assert spread.lightest["fp64"] == alone.lightest["fp64"]


# A pixel loop (0x10-0xc0) with a channel loop (0x70-0x90) for any channel count and,
# behind a branch, three channels in straight-line code (0x30-0x50: three stores).
STRAIGHT = """
        Function : _Z8straight
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/                   FFMA R1, R2, R3, R4 ;
        /*0020*/               @P0 BRA 0x70 ;
        /*0030*/                   STG.E desc[UR4][R10.64], R1 ;
        /*0040*/                   STG.E desc[UR4][R10.64+0x4], R1 ;
        /*0050*/                   STG.E desc[UR4][R10.64+0x8], R1 ;
        /*0060*/                   BRA 0xb0 ;
        /*0070*/                   DADD R8, R6, R6 ;
        /*0080*/                   STG.E desc[UR4][R10.64], R8 ;
        /*0090*/              @!P1 BRA 0x70 ;
        /*00a0*/                   IADD3 R1, R1, 0x1, RZ ;
        /*00b0*/                   ISETP.GE.AND P2, PT, R1, R12, PT ;
        /*00c0*/              @!P2 BRA 0x10 ;
        /*00d0*/                   EXIT ;
"""


def test_a_pixel_written_in_straight_line_code_counts_its_path_over_the_channels():
    (instructions,) = sass.parse_sass(STRAIGHT).values()
    counts = sass.count_per_element(instructions, channels=3)
    # Straight: FFMA, BRA, 3 STG, BRA, ISETP, BRA = 8 per pixel, 8 / 3 per element, no FP64;
    # through the channel loop: DADD, STG, BRA per element + (FFMA, BRA, IADD3, ISETP,
    # BRA) / 3 = 4.67, so the straight way is the lightest.
    assert sum(counts.lightest.values()) == pytest.approx(8 / 3)
    assert counts.lightest["fp64"] == 0 and counts.lightest["memory"] == pytest.approx(1)
    # The heaviest: the channel loop plus the pixel loop's way through it (FFMA, BRA,
    # IADD3, ISETP, BRA) / 3; the straight-line path is another pixel's, not added to it.
    assert sum(counts.heaviest.values()) == pytest.approx(3 + 5 / 3)


# The compiler's unswitching of ``channels == 3``: a pixel loop (0x20-0x90) with the
# channel loop (0x40-0x60) and the pixel's store (0x70) behind a test that skips them
# when there are no channels (0x30), and beside it, in the same sample loop (0x10-0x120),
# a pixel loop of its own (0xa0-0xf0) for three channels in straight-line code, which the
# first one's exit jumps over (0x98); then a sample's serial sum (0x100-0x110, a loop with
# no taps and no stores) and the back edge.
UNSWITCHED = """
        Function : _Z10unswitched
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/               @P5 BRA 0xa0 ;
        /*0020*/                   FFMA R1, R2, R3, R4 ;
        /*0030*/               @P0 BRA 0x80 ;
        /*0040*/                   LDG.E.U8 R5, desc[UR4][R10.64] ;
        /*0050*/                   DADD R8, R6, R6 ;
        /*0060*/              @!P1 BRA 0x40 ;
        /*0070*/                   STG.E desc[UR4][R10.64], R8 ;
        /*0080*/                   IADD3 R1, R1, 0x1, RZ ;
        /*0090*/              @!P2 BRA 0x20 ;
        /*0098*/                   BRA 0x100 ;
        /*00a0*/                   LDG.E.U8 R5, desc[UR4][R10.64] ;
        /*00b0*/                   LDG.E.U8 R6, desc[UR4][R10.64+0x1] ;
        /*00c0*/                   LDG.E.U8 R7, desc[UR4][R10.64+0x2] ;
        /*00d0*/                   STG.E desc[UR4][R12.64], R5 ;
        /*00e0*/                   STG.E desc[UR4][R12.64+0x4], R6 ;
        /*00f0*/              @!P3 BRA 0xa0 ;
        /*0100*/                   DADD R8, R8, R6 ;
        /*0110*/              @!P4 BRA 0x100 ;
        /*0120*/              @!P6 BRA 0x10 ;
        /*0130*/                   EXIT ;
"""


def _unswitched(stores: int) -> list:
    """UNSWITCHED with the straight-line pixel loop storing ``stores`` times (2 or 3)."""
    text = UNSWITCHED
    if stores == 3:
        text = text.replace("STG.E desc[UR4][R12.64+0x4], R6 ;",
                            "STG.E desc[UR4][R12.64+0x4], R6 ;\n        "
                            "/*00e8*/                   STG.E desc[UR4][R12.64+0x8], R7 ;")
    (instructions,) = sass.parse_sass(text).values()
    return instructions


def test_a_straight_line_pixel_loop_beside_the_channel_loops_counts_as_the_pixels_way():
    counts = sass.count_per_element(_unswitched(3), channels=3, is_tap=sass.tap_loads("uint8"))
    # Its own loop: 3 LDG, 3 STG, BRA = 7 per pixel, 7 / 3 per element, lighter than the
    # channel loop's way: LDG, DADD, BRA per element + (FFMA, BRA, STG, IADD3, BRA) / 3.
    assert sum(counts.lightest.values()) == pytest.approx(7 / 3)
    assert counts.lightest["fp64"] == 0 and counts.lightest["memory"] == pytest.approx(2)
    assert sum(counts.heaviest.values()) == pytest.approx(3 + 5 / 3)
    # A loop that stores fewer times than there are channels is no pixel's straight line,
    # and the serial sum (no stores) is none either: the channel loop's way counts.
    other = sass.count_per_element(_unswitched(2), channels=3, is_tap=sass.tap_loads("uint8"))
    assert sum(other.lightest.values()) == pytest.approx(3 + 5 / 3)


def test_the_pixel_loops_way_around_its_channel_loop_is_no_pixels():
    """The test at 0x30 skips the channel loop and the store (an image without channels):
    lighter, but no pixel's way, so the lightest path is the one through the channel loop."""
    counts = sass.count_per_element(_unswitched(2), channels=3, is_tap=sass.tap_loads("uint8"))
    assert counts.lightest["fp64"] == pytest.approx(1)  # the channel loop's DADD
    assert counts.lightest["memory"] == pytest.approx(1 + 1 / 3)  # its LDG, the pixel's STG


# sm_80 / sm_89 shapes: a pixel loop (0x20-0x80) whose head also takes an earlier back
# edge (0x50: a pixel that needs no more work) and which is left by a CALL.REL.NOINC
# (0x70) to the sample loop's body (0x90), its own back edge (0x80) unconditional.
ROTATED = """
        Function : _Z7rotated
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/                   IMAD R1, R0, 0x2, RZ ;
        /*0020*/                   FFMA R1, R2, R3, R4 ;
        /*0030*/                   DADD R8, R6, R6 ;
        /*0040*/              @!P1 BRA 0x30 ;
        /*0050*/               @P3 BRA 0x20 ;
        /*0060*/                   IADD3 R1, R1, 0x1, RZ ;
        /*0070*/               @P2 CALL.REL.NOINC 0x90 ;
        /*0080*/                   BRA 0x20 ;
        /*0090*/                   BSYNC B0 ;
        /*00a0*/              @!P4 BRA 0x10 ;
        /*00b0*/                   EXIT ;
"""


# Two kinds of path reach the pixel loop's early back edge (0x70): with the tap at 0x60
# and without it (0x50).
EARLY_TAPS = """
        Function : _Z5early
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/                   IMAD R1, R0, 0x2, RZ ;
        /*0020*/                   FFMA R1, R2, R3, R4 ;
        /*0030*/                   DADD R8, R6, R6 ;
        /*0040*/              @!P1 BRA 0x30 ;
        /*0050*/               @P4 BRA 0x70 ;
        /*0060*/                   LDG.E.U8 R5, desc[UR4][R10.64] ;
        /*0070*/               @P3 BRA 0x20 ;
        /*0080*/                   IADD3 R1, R1, 0x1, RZ ;
        /*0090*/              @!P2 BRA 0x20 ;
        /*00a0*/              @!P6 BRA 0x10 ;
        /*00b0*/                   EXIT ;
"""


def test_paths_of_every_kind_end_at_an_early_back_edge():
    (instructions,) = sass.parse_sass(EARLY_TAPS).values()
    counts = sass.count_per_element(instructions, channels=3, is_tap=sass.tap_loads("uint8"))
    # The lightest of the paths that read the tap: FFMA, BRA, LDG, BRA (0x70), per 3.
    assert sum(counts.lightest.values()) == pytest.approx(2 + 4 / 3)
    assert counts.lightest["memory"] == pytest.approx(1 / 3)


def test_a_path_ends_at_any_back_edge_and_a_loop_is_left_by_a_call():
    (instructions,) = sass.parse_sass(ROTATED).values()
    counts = sass.count_per_element(instructions, channels=3)
    # Channel loop: DADD, BRA; the pixel loop's lightest way ends at the back edge at 0x50
    # (FFMA, BRA), its heaviest at 0x80 (FFMA, BRA, IADD3, CALL, BRA).
    assert sum(counts.lightest.values()) == pytest.approx(2 + 2 / 3)
    assert sum(counts.heaviest.values()) == pytest.approx(2 + 5 / 3)
    # A sample: S2R, then IMAD, the pixel loop (left by the CALL), BSYNC, the back edge.
    assert _setup_per_pixel(instructions)[0] == pytest.approx(4 / 6)


# A kernel's entry with a predicated EXIT (0x20: a block past the last sample), and a
# sample loop (0x40-0xe0) whose branch at 0x50 goes around its pixel loop (0x70-0xc0,
# channel loop 0x80-0xa0) and the pixel loop's set-up (0x60).
ENTRY = """
        Function : _Z5entry
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/                   ISETP.GE.AND P0, PT, R0, R1, PT ;
        /*0020*/               @P0 EXIT ;
        /*0030*/                   IMAD R1, R0, 0x2, RZ ;
        /*0040*/                   IMAD R2, R1, 0x2, RZ ;
        /*0050*/               @P4 BRA 0xd0 ;
        /*0060*/                   MOV R3, R2 ;
        /*0070*/                   FFMA R1, R2, R3, R4 ;
        /*0080*/                   LDG.E.U8 R5, desc[UR4][R10.64] ;
        /*0090*/                   DADD R8, R6, R6 ;
        /*00a0*/              @!P1 BRA 0x80 ;
        /*00b0*/                   STG.E desc[UR4][R12.64], R8 ;
        /*00c0*/              @!P2 BRA 0x70 ;
        /*00d0*/                   IADD3 R1, R1, 0x1, RZ ;
        /*00e0*/              @!P3 BRA 0x40 ;
        /*00f0*/                   EXIT ;
"""


def test_a_threads_setup_runs_from_the_entry_through_a_pixel_loop():
    """Per sample: the entry past its predicated EXIT (S2R, ISETP, EXIT, IMAD), then the
    sample loop's way into its pixel loop (IMAD, BRA, MOV, IADD3, BRA), not around it."""
    (instructions,) = sass.parse_sass(ENTRY).values()
    assert _setup_per_pixel(instructions)[0] == pytest.approx(9 / 6)


# Loops that do not do a pixel's channels in straight-line code, though they store three
# times: beside the pixel loop (0x20-0x70, channel loop 0x30-0x50) in the sample loop
# (0x10-0xd0), one with a loop inside it (0x80-0xc0, inner 0xb0); after the sample loop,
# at the kernel's top level, another (0xe0-0x110).
DECOYS = """
        Function : _Z6decoys
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/               @P5 BRA 0x80 ;
        /*0020*/                   FFMA R1, R2, R3, R4 ;
        /*0030*/                   DADD R8, R6, R6 ;
        /*0040*/                   STG.E desc[UR4][R10.64], R8 ;
        /*0050*/              @!P1 BRA 0x30 ;
        /*0060*/                   IADD3 R1, R1, 0x1, RZ ;
        /*0070*/              @!P2 BRA 0x20 ;
        /*0080*/                   STG.E desc[UR4][R12.64], R5 ;
        /*0090*/                   STG.E desc[UR4][R12.64+0x4], R5 ;
        /*00a0*/                   STG.E desc[UR4][R12.64+0x8], R5 ;
        /*00b0*/              @!P6 BRA 0xb0 ;
        /*00c0*/              @!P3 BRA 0x80 ;
        /*00d0*/              @!P4 BRA 0x10 ;
        /*00e0*/                   STG.E desc[UR4][R14.64], R5 ;
        /*00f0*/                   STG.E desc[UR4][R14.64+0x4], R5 ;
        /*0100*/                   STG.E desc[UR4][R14.64+0x8], R5 ;
        /*0110*/              @!P0 BRA 0xe0 ;
        /*0120*/                   EXIT ;
"""


def test_a_loop_with_a_loop_inside_or_outside_the_sample_loop_is_no_pixels_straight_line():
    (instructions,) = sass.parse_sass(DECOYS).values()
    counts = sass.count_per_element(instructions, channels=3)
    # The channel loop's way: DADD, STG, BRA per element + (FFMA, IADD3, BRA) / 3.
    assert sum(counts.lightest.values()) == pytest.approx(3 + 1)


# A reader beside whose pixel loop (0x20-0x60, channel loop 0x30-0x40) a loop of its own
# (0x70-0xa0) reads three taps and stores nothing: one tap per channel, or less than one
# channel of an order-1 pixel.
READER_SIBLING = """
        Function : _Z7sibling
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/               @P5 BRA 0x70 ;
        /*0020*/                   FFMA R1, R2, R3, R4 ;
        /*0030*/                   LDG.E.U8 R5, desc[UR4][R10.64] ;
        /*0040*/              @!P1 BRA 0x30 ;
        /*0050*/                   IADD3 R1, R1, 0x1, RZ ;
        /*0060*/              @!P2 BRA 0x20 ;
        /*0070*/                   LDG.E.U8 R5, desc[UR4][R10.64] ;
        /*0080*/                   LDG.E.U8 R6, desc[UR4][R10.64+0x1] ;
        /*0090*/                   LDG.E.U8 R7, desc[UR4][R10.64+0x2] ;
        /*00a0*/              @!P3 BRA 0x70 ;
        /*00b0*/              @!P4 BRA 0x10 ;
        /*00c0*/                   EXIT ;
"""


def test_a_readers_pixel_loop_of_its_own_counts_when_it_reads_every_channels_taps():
    (instructions,) = sass.parse_sass(READER_SIBLING).values()
    taps = sass.tap_loads("uint8")
    # One tap per channel: its 4 instructions a pixel, 4 / 3 per element, against the
    # channel loop's LDG, BRA + (FFMA, IADD3, BRA) / 3.
    order0 = sass.count_per_element(instructions, channels=3, is_tap=taps)
    assert sum(order0.lightest.values()) == pytest.approx(4 / 3)
    order1 = sass.count_per_element(instructions, channels=3, is_tap=taps, taps_per_channel=4)
    assert sum(order1.lightest.values()) == pytest.approx(2 + 1)


def test_a_threads_setup_leaves_out_every_pixel_loop():
    """Per sample: S2R, then the sample loop's branch (0x10), the serial sum's DADD and
    BRA (0x100-0x110) and the back edge (0x120), and on the way out of the first pixel
    loop its jump (0x98, the heaviest); neither pixel loop's body."""
    grown = _setup_per_pixel(_unswitched(3), is_tap=sass.tap_loads("uint8"))
    for side, lightest_or_heaviest, setup in zip(("lightest", "heaviest"), grown, (5, 6)):
        assert lightest_or_heaviest == pytest.approx(setup / 6), side


# A reader (a moments pass): a pixel loop (0x10-0xd0) with a channel loop (0x80-0xa0) and,
# behind a branch, three channels' taps read and summed in straight-line code (0x30-0x60),
# no stores.
READER = """
        Function : _Z6reader
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/                   FFMA R1, R2, R3, R4 ;
        /*0020*/               @P0 BRA 0x80 ;
        /*0030*/                   LDG.E.U8 R5, desc[UR4][R10.64] ;
        /*0040*/                   LDG.E.U8 R6, desc[UR4][R10.64+0x1] ;
        /*0050*/                   LDG.E.U8 R7, desc[UR4][R10.64+0x2] ;
        /*0060*/                   DADD R8, R6, R6 ;
        /*0070*/                   BRA 0xc0 ;
        /*0080*/                   LDG.E.U8 R5, desc[UR4][R10.64] ;
        /*0090*/                   DADD R8, R8, R6 ;
        /*00a0*/              @!P1 BRA 0x80 ;
        /*00b0*/                   IADD3 R1, R1, 0x1, RZ ;
        /*00c0*/                   ISETP.GE.AND P2, PT, R1, R12, PT ;
        /*00d0*/              @!P2 BRA 0x10 ;
        /*00e0*/                   EXIT ;
"""


def test_a_readers_straight_line_pixel_counts_when_it_reads_every_channels_taps():
    (instructions,) = sass.parse_sass(READER).values()
    counts = sass.count_per_element(instructions, channels=3, is_tap=sass.tap_loads("uint8"))
    # Straight: FFMA, BRA, 3 LDG, DADD, BRA, ISETP, BRA = 9 per pixel, 3 per element;
    # through the channel loop: LDG, DADD, BRA per element + (FFMA, BRA, IADD3, ISETP,
    # BRA) / 3 = 4.67.
    assert sum(counts.lightest.values()) == pytest.approx(3)
    assert counts.lightest["memory"] == pytest.approx(1)
    # With four taps per channel (order 1) three loads are less than one channel: not a
    # pixel's straight-line code, so the channel loop counts per element, plus the pixel
    # loop's way through it (FFMA, BRA, IADD3, ISETP, BRA) / 3.
    order1 = sass.count_per_element(instructions, channels=3, is_tap=sass.tap_loads("uint8"),
                                    taps_per_channel=4)
    assert sum(order1.lightest.values()) == pytest.approx(3 + 5 / 3)


# A channel loop (0x20-0x60) whose branch at 0x20 skips the tap load (a constant-fill
# pixel outside the image, an unwarped sample): a shortcut, not the kernel's work.
SHORTCUT = """
        Function : _Z5short
        /*0000*/                   S2R R0, SR_TID.X ;
        /*0010*/                   IMAD R1, R0, 0x2, RZ ;
        /*0020*/               @P0 BRA 0x50 ;
        /*0030*/                   LDG.E.U8 R2, desc[UR4][R4.64] ;
        /*0040*/                   I2F.F64.U32 R6, R2 ;
        /*0050*/                   STG.E desc[UR4][R10.64], R6 ;
        /*0060*/              @!P1 BRA 0x20 ;
        /*0070*/              @!P2 BRA 0x10 ;
        /*0080*/                   EXIT ;
"""


def test_the_lightest_path_reads_the_taps_instead_of_skipping_them():
    (instructions,) = sass.parse_sass(SHORTCUT).values()
    reads = sass.count_per_element(instructions, channels=3, is_tap=sass.tap_loads("uint8"))
    # BRA, LDG, I2F, STG, BRA per element + (IMAD, BRA) / 3 per pixel.
    assert sum(reads.lightest.values()) == pytest.approx(5 + 2 / 3)
    assert reads.lightest["memory"] == pytest.approx(2) and reads.lightest["fp64"] == 1
    # A float32 input's taps are plain 32-bit loads: the U8 load is not one, and the
    # lightest path is the shortcut (BRA, STG, BRA).
    other = sass.count_per_element(instructions, channels=3, is_tap=sass.tap_loads("float32"))
    assert sum(other.lightest.values()) == pytest.approx(3 + 2 / 3)


def test_tap_loads_are_told_by_the_input_dtype():
    assert sass.tap_loads("uint8")("LDG.E.U8.CONSTANT")
    assert not sass.tap_loads("uint8")("LDG.E.64.CONSTANT")  # a float64 statistic
    assert sass.tap_loads("float32")("LDG.E.CONSTANT")
    assert not sass.tap_loads("float32")("LDG.E.64")
    assert sass.tap_loads("float16")("LDG.E.U16")


def test_occupancy_follows_the_register_file():
    assert sass.resident_warps(90, 64) == 16  # 2 blocks of 8 warps: 25 %
    assert sass.resident_warps(64, 64) == 32
    assert sass.resident_warps(32, 64) == 64
    assert sass.resident_warps(40, 32) == 32  # T4: at most 32 warps


@pytest.fixture(scope="module")
def classic_report():
    _nvrtc_or_skip()
    try:
        sass.tool("cuobjdump"), sass.tool("nvdisasm")
    except sass.harness.Unavailable as exc:
        if os.environ.get("GPUAUG_REQUIRE_NVRTC") == "1":  # CI installs both from PyPI
            pytest.fail(f"the SASS tools are required here: {exc}")
        pytest.skip(str(exc))
    return sass.run(argparse.Namespace(arches=["sm_90"]))


def test_the_report_reads_the_compiled_classic_kernel(classic_report):
    payload, text = classic_report
    rows = {r["variant"]: r for r in payload["results"]}
    classic = rows["classic exact"]
    assert classic["registers"] > 0 and classic["spill_bytes"] == 0
    assert classic["per_element"]["fp64"] > 0  # the exact mode's float64 coordinates
    assert classic["per_element"]["memory"] >= 1 + 1 / 3  # a store per element, a load per pixel
    assert classic["instructions_per_element"] <= classic["instructions_per_element_heaviest"]
    # Nearest-neighbour sampling reads one tap, bilinear four: fewer FP64 instructions.
    assert rows["order 0"]["per_element"]["fp64"] < classic["per_element"]["fp64"]
    # The samplewise configuration runs the moments pass too.
    assert rows["samplewise"]["instructions_per_element"] > classic["instructions_per_element"]
    h100 = next(p for p in classic["predictions"] if p["gpu"] == "H100 SXM")
    assert 0 < h100["floor_fraction"] <= 1 and h100["occupancy"] <= 1
    # precision="fast": no FP64 arithmetic per element (at most a conversion per pixel),
    # fewer registers and fewer instructions than the exact kernel.
    fast = rows["classic fast"]
    assert fast["per_element"]["fp64"] <= 1 and fast["spill_bytes"] == 0
    assert fast["registers"] < classic["registers"]
    assert fast["instructions_per_element"] < classic["instructions_per_element"]
    last = text.strip().splitlines()[-1]
    assert re.fullmatch(r"sass: classic exact \d+ instr/elem \d+ regs, "
                        r"fast \d+ instr/elem \d+ regs \d+ fp64", last)
    json.dumps(payload, default=str)  # the harness writes it


def test_the_registers_are_cuobjdumps(classic_report, tmp_path):
    import subprocess

    from gpuaug.backends.cuda.nvrtc import compile_for_arch

    _, variant, (timed_pass,) = sass.VARIANTS[0]
    compiled = compile_for_arch(variant.names(), "sm_90")
    path = tmp_path / "classic.cubin"
    path.write_bytes(compiled.cubin)
    usage = sass.parse_resources(subprocess.run(
        [sass.tool("cuobjdump"), "-res-usage", str(path)], check=True, capture_output=True,
        text=True).stdout)
    write = usage[compiled.lowered[variant.name(timed_pass)]]
    payload, _ = classic_report
    assert payload["results"][0]["registers"] == write["REG"]


ALONE_KERNELS = {  # bench/kernel.py's kernels-alone configurations: the kernels each takes
    "classic exact": ("write_plain",), "classic fast": ("write_plain",),
    "NCHW out": ("write_plain",), "order 0": ("write_plain",), "reflect": ("write_plain",),
    "wrap": ("write_plain",), "constant": ("write_plain",),
    "samplewise": ("moments_plain", "write_samplewise"),
    "channel shift + brightness": ("minmax", "write"),
    "samplewise + channel shift": ("minmax", "moments", "write"),
}


def test_the_kernel_benchmark_times_what_its_labels_say_and_asks_the_model_for_it(
        classic_report, build_dir):
    """bench/kernel.py's table of the kernels alone, checked without a GPU: each
    configuration takes the kernels its label names (on the emulated backend), and the
    model's time beside a measurement is the SASS report's for the same kernels."""
    import numpy as np

    import gpuaug
    from gpuaug.benchmarks.kernel import ALONE, model_seconds
    from gpuaug.compose import compose_matrices
    from gpuaug.presets import CLASSIC

    from fused_backends import make_backend

    backend = make_backend("emulated", build_dir)
    x = np.random.default_rng(0).integers(0, 256, (2, 12, 10, 3), dtype=np.uint8)
    variants = {}
    for label, settings in ALONE:
        gen = gpuaug.ImageDataGenerator(**{**CLASSIC, **settings}, device="cpu")
        params = gen.sampler.draw_batch(gen.random_state, 2, x.shape[1:])
        alone = backend.kernels_alone(x, compose_matrices(params, 12, 10), params, gen.config())
        assert alone.passes == ALONE_KERNELS[label], label
        variants[label] = alone.variant
    assert set(variants) == set(ALONE_KERNELS)
    payload, _ = classic_report
    report = {r["variant"]: r for r in payload["results"]}
    for label in ("classic exact", "classic fast"):
        timed = next(v for name, v, _ in sass.VARIANTS if name == label)
        assert variants[label] == timed
        h200 = next(p for p in report[label]["predictions"] if p["gpu"] == "H200")
        seconds, gpu = model_seconds(variants[label], ALONE_KERNELS[label], "NVIDIA H200")
        assert (seconds, gpu) == (h200["seconds"], "H200")
    for other in ("NVIDIA RTX 6000", "NVIDIA L40S", "NVIDIA GH200 480GB", "NVIDIA H100 PCIe",
                  "NVIDIA H100 NVL", "NVIDIA H200 NVL"):
        assert model_seconds(variants["classic exact"], ("write_plain",), other) == (
            None, f"no model for {other}")
    for name, gpu in (("NVIDIA H100 80GB HBM3", "H100 SXM"), ("NVIDIA L4", "L4"),
                      ("Tesla T4", "T4")):
        assert model_seconds(variants["classic exact"], ("write_plain",), name)[1] == gpu


def test_the_launch_shape_table_sets_each_shape_against_the_default():
    from gpuaug.backends.cuda.launch_args import PIXELS_PER_THREAD
    from gpuaug.benchmarks.kernel import LAUNCH_SHAPES, launch_shape_table

    assert LAUNCH_SHAPES == (PIXELS_PER_THREAD, 8)  # the default first: the ratios' baseline
    text = launch_shape_table([
        dict(variant="classic exact", batch=32, median_s={4: 10e-6, 8: 13e-6}),
        dict(variant="classic fast", batch=256, median_s={4: None, 8: 20e-6},
             note="OutOfMemoryError: 1 GB")])
    rows = text.splitlines()
    assert rows[0] == "| variant | batch | 4 px/thread us | 8 px/thread us | 8 / 4 |"
    assert rows[2] == "| classic exact | 32 | 10.0 | 13.0 | 1.30 |"
    assert rows[3] == "| classic fast | 256 | OutOfMemoryError: 1 GB | 20.0 | — |"
