"""Every bit flag tasoc reads or writes, in one registry.

Each :class:`FlagSet` lists (bit value, name, description) once; the same table decodes
values, builds masks and renders the documentation (``docs/flags.md`` is generated from it
and a test keeps the two in step).

Departure from the original pipeline: there, bit 256 of the light-curve ``QUALITY`` column
meant "BackgroundShenanigans" in raw photometry but "Rejected" after correction. Here 256
always means *rejected* (paper 003, Table 1) and the sharp-background-feature flag has its
own bit, 512.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs
import numpy as np

__all__ = [
    "CBV_BITMASK",
    "DATAVAL",
    "DATAVAL_REJECT",
    "FFI_RELEVANT_BITMASK",
    "PIXEL_FLAGS",
    "QUALITY",
    "TESS_DEFAULT_BITMASK",
    "TESS_QUALITY",
    "Flag",
    "FlagSet",
    "all_flag_sets",
    "render_markdown",
]


@attrs.frozen
class Flag:
    """One bit of a flag set."""

    value: int
    name: str
    description: str


@attrs.frozen
class FlagSet:
    """A named collection of single-bit flags.

    Parameters
    ----------
    name
        Short identifier, e.g. ``"TESS_QUALITY"``.
    description
        Where the flags live and who sets them.
    flags
        The bits, each a power of two, in increasing order.
    """

    name: str
    description: str
    flags: tuple[Flag, ...]

    def __attrs_post_init__(self) -> None:
        seen: set[int] = set()
        for flag in self.flags:
            if flag.value <= 0 or flag.value & (flag.value - 1):
                raise ValueError(f"{self.name}.{flag.name}: {flag.value} is not a single bit")
            if flag.value in seen:
                raise ValueError(f"{self.name}: bit {flag.value} defined twice")
            seen.add(flag.value)

    def __iter__(self) -> Iterator[Flag]:
        return iter(self.flags)

    def __getitem__(self, name: str) -> int:
        for flag in self.flags:
            if flag.name == name:
                return flag.value
        raise KeyError(f"{self.name} has no flag named {name!r}")

    def mask(self, names: Iterable[str]) -> int:
        """Bitwise OR of the named flags."""
        value = 0
        for name in names:
            value |= self[name]
        return value

    def decode(self, value: int) -> list[str]:
        """Names of the flags set in ``value`` (unknown bits are reported as ``bit<N>``)."""
        value = int(value)
        names = [flag.name for flag in self.flags if value & flag.value]
        unknown = value & ~self.mask(flag.name for flag in self.flags)
        bit = 1
        while unknown:
            if unknown & bit:
                names.append(f"bit{bit}")
                unknown &= ~bit
            bit <<= 1
        return names

    def count(self, values: np.ndarray) -> dict[str, int]:
        """How many of ``values`` have each flag set."""
        values = np.asarray(values, dtype=np.int64)
        return {flag.name: int(np.count_nonzero(values & flag.value)) for flag in self.flags}


def _flags(*rows: tuple[int, str, str]) -> tuple[Flag, ...]:
    return tuple(Flag(v, n, d) for v, n, d in rows)


TESS_QUALITY = FlagSet(
    "TESS_QUALITY",
    "SPOC quality flags (TPF/LC QUALITY column, FFI DQUALITY keyword); stored by tasoc in "
    "the PIXEL_QUALITY light-curve column.",
    _flags(
        (1, "AttitudeTweak", "Attitude tweak"),
        (2, "SafeMode", "Safe mode"),
        (4, "CoarsePoint", "Spacecraft is in coarse point"),
        (8, "EarthPoint", "Spacecraft is in Earth point"),
        (
            16,
            "Argabrightening",
            "Argabrightening event (reaction-wheel zero crossing in early files)",
        ),
        (32, "Desat", "Reaction wheel desaturation event (momentum dump)"),
        (64, "ApertureCosmic", "Cosmic ray in optimal aperture pixel"),
        (128, "ManualExclude", "Manual exclude"),
        (256, "Discontinuity", "Discontinuity corrected between this cadence and the next"),
        (512, "ImpulsiveOutlier", "Impulsive outlier removed before cotrending"),
        (1024, "CollateralCosmic", "Cosmic ray detected on collateral pixel row or column"),
        (2048, "Straylight", "Earth, Moon or other planet in the camera field of view"),
        (4096, "Straylight2", "Scattered light exclude"),
        (8192, "PlanetSearchExclude", "Planet search exclude"),
        (16384, "BadCalibrationExclude", "Bad calibration exclude"),
        (32768, "InsufficientTargets", "Insufficient targets for systematic error correction"),
    ),
)

#: Cadences that should not be used by default (the mission's recommended mask; 4335 in the
#: original pipeline: AttitudeTweak, SafeMode, CoarsePoint, EarthPoint, Desat, ApertureCosmic,
#: ManualExclude, Straylight2).
TESS_DEFAULT_BITMASK = TESS_QUALITY.mask(
    [
        "AttitudeTweak",
        "SafeMode",
        "CoarsePoint",
        "EarthPoint",
        "Desat",
        "ApertureCosmic",
        "ManualExclude",
        "Straylight2",
    ]
)

#: Flags that concern every target on a CCD and so are transferred from TPFs to FFIs (6191).
FFI_RELEVANT_BITMASK = TESS_QUALITY.mask(
    ["AttitudeTweak", "SafeMode", "CoarsePoint", "EarthPoint", "Desat", "Straylight", "Straylight2"]
)

#: Cadences left out when building co-trending basis vectors (170).
CBV_BITMASK = TESS_QUALITY.mask(["SafeMode", "EarthPoint", "Desat", "ManualExclude"])

QUALITY = FlagSet(
    "QUALITY",
    "tasoc flags in the light-curve QUALITY column (paper 003, Table 1, plus bit 512).",
    _flags(
        (1, "FlaggedBadData", "Flagged bad by the TESS quality flags (default bitmask)"),
        (2, "ManualExclude", "Manually excluded by the tasoc team"),
        (4, "SigmaClip", "Sigma-clipped during correction"),
        (8, "JumpAdditiveConstant", "Additive constant jump correction applied"),
        (16, "JumpAdditiveLinear", "Additive linear jump correction applied"),
        (32, "JumpMultiplicativeConstant", "Multiplicative constant jump correction applied"),
        (64, "JumpMultiplicativeLinear", "Multiplicative linear jump correction applied"),
        (128, "Interpolated", "Data point interpolated"),
        (256, "Rejected", "Data point rejected in processing"),
        (512, "BackgroundShenanigans", "A stamp pixel was flagged for a sharp background feature"),
    ),
)

PIXEL_FLAGS = FlagSet(
    "PIXEL_FLAGS",
    "Per-pixel, per-frame flags written by `tasoc prepare` into the HDF5 cube.",
    _flags(
        (1, "NotUsedForBackground", "Pixel masked when estimating the background"),
        (2, "ManualExclude", "Pixel excluded by a manual rule in the configuration"),
        (4, "BackgroundShenanigans", "Sharp feature in the background-subtracted image"),
        (8, "BadFrame", "Whole frame unusable (corrupt, NaN or wrong shape)"),
    ),
)

DATAVAL = FlagSet(
    "DATAVAL",
    "Data-validation flags per target and method (paper 003, Table 2); DATAVAL header.",
    _flags(
        (1, "MagVsFluxHigh", "Star has higher flux than given by the magnitude relation"),
        (2, "MagVsFluxLow", "Star has lower flux than given by the magnitude relation"),
        (16, "MinimalMask", "Star has the minimum 2x2 mask"),
        (32, "SmallMask", "Star has a smaller mask than the general relation"),
        (64, "LargeMask", "Star has a larger mask than the general relation"),
        (256, "LowPTP", "PTP-MDV lower than theoretical"),
        (512, "LowRMS", "RMS lower than theoretical"),
        (1024, "InvalidContamination", "Invalid contamination"),
        (2048, "ContaminationHigh", "Contamination high"),
        (4096, "InvalidFlux", "Invalid mean flux"),
        (8192, "InvalidNoise", "Invalid noise"),
    ),
)

#: DATAVAL bits that withhold a target from release (13408).
DATAVAL_REJECT = DATAVAL.mask(
    ["SmallMask", "LargeMask", "InvalidContamination", "InvalidFlux", "InvalidNoise"]
)


def all_flag_sets() -> tuple[FlagSet, ...]:
    """Every flag set, in documentation order."""
    return (TESS_QUALITY, QUALITY, PIXEL_FLAGS, DATAVAL)


def render_markdown() -> str:
    """The flag tables as Markdown (``docs/flags.md`` is this text; a test checks it)."""
    lines = [
        "# Flags",
        "",
        "Generated from `tasoc_core.flags` (`python -m tasoc_core.flags > docs/flags.md`).",
        "",
    ]
    for flag_set in all_flag_sets():
        lines += [
            f"## {flag_set.name}",
            "",
            flag_set.description,
            "",
            "| value | name | meaning |",
            "|---:|---|---|",
        ]
        lines += [f"| {f.value} | {f.name} | {f.description} |" for f in flag_set]
        lines.append("")
    masks = {
        "TESS_DEFAULT_BITMASK": TESS_DEFAULT_BITMASK,
        "FFI_RELEVANT_BITMASK": FFI_RELEVANT_BITMASK,
        "CBV_BITMASK": CBV_BITMASK,
        "DATAVAL_REJECT": DATAVAL_REJECT,
    }
    lines += ["## Masks", "", "| mask | value | flags |", "|---|---:|---|"]
    for name, value in masks.items():
        owner = DATAVAL if name.startswith("DATAVAL") else TESS_QUALITY
        lines.append(f"| {name} | {value} | {', '.join(owner.decode(value))} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
