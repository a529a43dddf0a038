"""Known constant errors in early SPOC timestamps, corrected per data release.

SPOC products up to sectors 20/21 had their times 2.0 s late (an off-by-one frame), start
times 31 ms and end times 11 ms late, and FFIs did not account for the staggered readout of
the cameras and CCDs (Fausnaugh et al. 2019, 2020; tasoc_reference.md §5.1). Which products
need the fix depends on the data release and, for releases 27 and 29, the processing
version; later products are correct.
"""

from __future__ import annotations

import attrs

from tasoc_core.exceptions import InputFileError

__all__ = ["TimeOffsets", "time_offsets"]

# Readout order 1, 3, 4, 2, half a second apart; the CCDs of a camera 20 ms apart.
_CAMERA_STAGGER = {1: 0.000, 2: 1.500, 3: 0.500, 4: 1.000}
_CCD_STAGGER = {1: 0.000, 2: 0.020, 3: 0.040, 4: 0.060}
_FIXED_PROCVER = {
    27: {"spoc-4.0.14-20200108", "spoc-4.0.15-20200114", "spoc-4.0.17-20200130"},
    29: {"spoc-4.0.17-20200130", "spoc-4.0.20-20200220", "spoc-4.0.21-20200227"},
}
# The first release 27 processing still lacked the staggered-readout correction.
_STAGGER_PROCVER_27 = "spoc-4.0.14-20200108"


@attrs.frozen
class TimeOffsets:
    """Seconds to add to the start, mid and stop times of every cadence."""

    start: float = 0.0
    mid: float = 0.0
    stop: float = 0.0

    @property
    def applies(self) -> bool:
        return (self.start, self.mid, self.stop) != (0.0, 0.0, 0.0)


def time_offsets(
    data_rel: int, procver: str | None, *, camera: int, ccd: int, ffi: bool, source: str = "input"
) -> TimeOffsets:
    """The correction due to a product of SPOC data release ``data_rel``.

    Parameters
    ----------
    data_rel, procver
        ``DATA_REL`` and ``PROCVER`` of the product.
    camera, ccd
        Where it was observed (the staggered readout applies to FFIs).
    ffi
        FFI (True) or TPF (False).
    source
        The file or cube, for error messages.

    Raises
    ------
    InputFileError
        For releases 27 and 29 without a processing version: whether the product needs the
        fix cannot be decided.
    """
    data_rel = int(data_rel)
    if data_rel > 29 or data_rel in (28,):
        return TimeOffsets()
    if data_rel in _FIXED_PROCVER:
        if not procver:
            raise InputFileError(
                f"{source}: data release {data_rel} without PROCVER: cannot tell whether the "
                "times need the SPOC time-offset fix"
            )
        if procver not in _FIXED_PROCVER[data_rel]:
            return TimeOffsets()
    stagger = 0.0
    if ffi and (data_rel <= 26 or (data_rel == 27 and procver == _STAGGER_PROCVER_27)):
        stagger = _CAMERA_STAGGER[int(camera)] + _CCD_STAGGER[int(ccd)]
    return TimeOffsets(
        start=stagger - 2.000 + 0.031,
        mid=stagger - 2.000 + 0.021,
        stop=stagger - 2.000 + 0.011,
    )
