"""The conformance suite accepts good classes and catches each kind of bad one."""

from __future__ import annotations

import types

import attrs
import numpy as np
import pytest
from astropy.io import fits
from scipy import ndimage

from tasoc_core import hookimpl
from tasoc_core.families import (
    BackgroundEstimate,
    BackgroundEstimator,
    CorrectionResult,
    Corrector,
    PhotometryMethod,
    PhotometryResult,
    ValidationResult,
    Validator,
)
from tasoc_core.flags import DATAVAL
from tasoc_core.testing import (
    assert_conformance,
    check_background_estimator,
    check_corrector,
    check_photometry_method,
    check_validator,
    forbid_file_access,
)


class GoodPhotometry(PhotometryMethod):
    """Sum of a 7x7 box around the target."""

    name = "good"

    def photometry(self, data):
        r, c = (round(v) for v in data.position_in_stamp)
        box = data.images[:, r - 3 : r + 4, c - 3 : c + 4]
        err = data.images_err[:, r - 3 : r + 4, c - 3 : c + 4]
        return PhotometryResult(
            data=data, flux=box.sum(axis=(1, 2)), flux_err=np.sqrt((err**2).sum(axis=(1, 2)))
        )


class HalfFlux(GoodPhotometry):
    """Loses half the flux."""

    name = "half"

    def photometry(self, data):
        result = super().photometry(data)
        return attrs.evolve(result, flux=result.flux / 2)


class ReadsFiles(GoodPhotometry):
    """Opens a FITS file."""

    name = "reads"

    def photometry(self, data):
        fits.open("calibration.fits")


class Noisy(GoodPhotometry):
    """Adds random noise: not deterministic, and the signal drowns."""

    name = "noisy"

    def photometry(self, data):
        result = super().photometry(data)
        return attrs.evolve(
            result,
            flux=result.flux
            * (1 + 0.05 * np.random.default_rng().standard_normal(len(result.flux))),
        )


class NotFrozen(GoodPhotometry):
    """Mutable settings."""

    name = "mutable"

    @attrs.define
    class Settings:
        radius: float = 2.0


def test_good_photometry_method_passes():
    assert check_photometry_method(GoodPhotometry) == []


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (HalfFlux, "median flux is 0.50"),
        (ReadsFiles, "file access is not allowed"),
        (Noisy, "two runs on the same data gave different light curves"),
        (NotFrozen, "Settings should be frozen"),
    ],
)
def test_bad_photometry_methods_are_caught(cls, expected):
    problems = check_photometry_method(cls)
    assert any(expected in p for p in problems), problems


class QuadraticSky(BackgroundEstimator):
    """Sigma-clipped quadratic surface."""

    name = "quadratic"

    def estimate(self, image, *, mask, geometry):
        rows, cols = np.indices(image.shape, dtype=float)
        design = np.stack([np.ones_like(rows), rows, cols, rows**2, cols**2, rows * cols], axis=-1)
        use = ~mask & np.isfinite(image)
        for _ in range(5):
            coef = np.linalg.lstsq(design[use], image[use], rcond=None)[0]
            model = design @ coef
            resid = image - model
            sigma = 1.4826 * np.median(np.abs(resid[use]))
            use &= resid < 3 * sigma
        return BackgroundEstimate(model.astype(np.float32), use)


class MedianFilterSky(QuadraticSky):
    """A median filter that marks masked pixels as used."""

    name = "median"

    def estimate(self, image, *, mask, geometry):
        return BackgroundEstimate(ndimage.median_filter(image, 31), np.ones(image.shape, bool))


class FlatSky(QuadraticSky):
    """One global median: misses the sky gradient."""

    name = "flat"

    def estimate(self, image, *, mask, geometry):
        level = np.median(image[~mask])
        return BackgroundEstimate(np.full(image.shape, level, np.float32), ~mask)


def test_background_estimators():
    assert check_background_estimator(QuadraticSky) == []
    problems = check_background_estimator(MedianFilterSky)
    assert any("masked pixels are marked as used" in p for p in problems)
    problems = check_background_estimator(FlatSky)
    assert any("RMS residual against the true sky is" in p for p in problems), problems


class FlagsInvalidFlux(Validator):
    """Flags non-positive mean flux."""

    name = "flux"

    def validate(self, table):
        bad = ~(np.asarray(table["mean_flux"]) > 0)
        return ValidationResult(np.where(bad, DATAVAL["InvalidFlux"], 0))


class WrongBits(FlagsInvalidFlux):
    """Uses a bit that does not exist."""

    name = "wrongbits"

    def validate(self, table):
        return ValidationResult(np.full(len(table), 4))


def test_validators():
    assert check_validator(FlagsInvalidFlux) == []
    assert any("not DATAVAL flags" in p for p in check_validator(WrongBits))


class MedianDivide(Corrector):
    """Divide by the median of the neighbours' normalised light curves."""

    name = "median"

    def correct(self, lc, context):
        others = context.candidates(lc, limit=30)
        stack = np.array([o.flux / np.median(o.flux) for o in others])
        ensemble = np.median(stack, axis=0)
        corrected = lc.flux / ensemble
        rel = corrected / np.median(corrected) - 1
        return CorrectionResult(
            flux=rel * 1e6,
            flux_err=lc.flux_err / np.median(lc.flux) * 1e6,
            quality=np.zeros(len(lc)),
        )


class DoesNothing(MedianDivide):
    """Returns the raw relative flux."""

    name = "nothing"

    def correct(self, lc, context):
        rel = lc.flux / np.median(lc.flux) - 1
        return CorrectionResult(flux=rel * 1e6, flux_err=lc.flux_err, quality=np.zeros(len(lc)))


def test_correctors():
    assert check_corrector(MedianDivide) == []
    assert any("systematics not removed" in p for p in check_corrector(DoesNothing))


def test_assert_conformance_reports_every_problem():
    good = types.SimpleNamespace(__name__="good")
    good.tasoc_register_photometry_methods = hookimpl(lambda register: register(GoodPhotometry))
    assert [r.name for r in assert_conformance(good)] == ["good"]
    bad = types.SimpleNamespace(__name__="bad")
    bad.tasoc_register_photometry_methods = hookimpl(
        lambda register: (register(HalfFlux), register(ReadsFiles))
    )
    with pytest.raises(AssertionError) as info:
        assert_conformance(bad)
    assert "half: " in str(info.value)
    assert "reads: " in str(info.value)


def test_forbid_file_access_blocks_open(tmp_path):
    with forbid_file_access(), pytest.raises(AssertionError, match="file access"):
        open(tmp_path / "x.txt", "w")  # noqa: SIM115
    (tmp_path / "x.txt").write_text("fine outside")


def test_forbid_file_access_lets_libraries_read_their_own_files(tmp_path):
    import importlib.metadata

    with forbid_file_access():
        assert importlib.metadata.version("numpy")  # reads numpy's dist-info
        with pytest.raises(AssertionError, match="file access"):
            (tmp_path / "data.txt").write_text("no writes anywhere")
