"""Named generator configurations, defined once for the demo, the benchmarks and the tests."""

from __future__ import annotations

from typing import Any

#: The configuration of Keras's tutorials: rotation 40, shifts / shear / zoom 0.2, horizontal
#: flip, rescale 1/255.  The demo, ``gpuaug preview``'s defaults, every benchmark and the
#: kernel tests augment with it (the tests derive their variants from it by name).
CLASSIC: dict[str, Any] = dict(
    rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
    zoom_range=0.2, horizontal_flip=True, fill_mode="nearest", rescale=1 / 255,
)

CLASSIC_DESCRIPTION = ("rotation 40, shifts / shear / zoom 0.2, horizontal flip, "
                       "rescale 1/255")

#: The named starting points of the command line's generator arguments: "keras" is
#: Keras's own defaults (no augmentation at all), "classic" the configuration above.
PRESETS: dict[str, dict[str, Any]] = {"keras": {}, "classic": CLASSIC}
