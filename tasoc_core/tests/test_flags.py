"""The flag registry: mask values match the original pipeline, decoding round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from tasoc_core import flags


def test_masks_equal_the_documented_values():
    # Values from the original pipeline (tasoc_reference.md §13-14).
    assert flags.TESS_DEFAULT_BITMASK == 4335
    assert flags.FFI_RELEVANT_BITMASK == 6191
    assert flags.CBV_BITMASK == 170
    assert flags.DATAVAL_REJECT == 13408


def test_decode_names_set_bits_and_unknown_bits():
    value = flags.TESS_QUALITY["Desat"] | flags.TESS_QUALITY["CoarsePoint"] | (1 << 20)
    assert flags.TESS_QUALITY.decode(value) == ["CoarsePoint", "Desat", "bit1048576"]
    assert flags.QUALITY.decode(0) == []


def test_rejected_and_shenanigans_have_separate_bits():
    assert flags.QUALITY["Rejected"] == 256
    assert flags.QUALITY["BackgroundShenanigans"] == 512


def test_count_over_array():
    values = np.array([0, 2, 2 | 16, 16])
    counts = flags.DATAVAL.count(values)
    assert counts["MagVsFluxLow"] == 2
    assert counts["MinimalMask"] == 2
    assert counts["InvalidNoise"] == 0


def test_flagset_rejects_non_single_bits_and_duplicates():
    with pytest.raises(ValueError, match="not a single bit"):
        flags.FlagSet("X", "", (flags.Flag(3, "a", ""),))
    with pytest.raises(ValueError, match="defined twice"):
        flags.FlagSet("X", "", (flags.Flag(2, "a", ""), flags.Flag(2, "b", "")))
    with pytest.raises(KeyError, match="no flag named"):
        flags.QUALITY["Nope"]
