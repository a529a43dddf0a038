"""Conformance checks: does a registered class keep its family's contract?

Each ``check_*`` function runs the class on synthetic data with known truth and returns a
list of problems (empty when the class conforms). :func:`assert_conformance` runs every
check for every class a plugin registers; a plugin's own test suite calls it, and
``tasoc plugins check NAME`` shows the same results.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import sqlite3
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import attrs
import numpy as np

from tasoc_core.families import (
    NAME_PATTERN,
    BackgroundEstimate,
    BackgroundEstimator,
    CatalogSource,
    CorrectionResult,
    Corrector,
    PhotometryMethod,
    PhotometryResult,
    ValidationResult,
    Validator,
)
from tasoc_core.flags import DATAVAL
from tasoc_core.plugins import Registration, get_plugin_manager
from tasoc_core.testing.synthetic import (
    InMemoryCorrectionContext,
    synthetic_frame,
    synthetic_light_curves,
    synthetic_target,
    synthetic_validation_table,
)

__all__ = [
    "FileAccessError",
    "assert_conformance",
    "check_background_estimator",
    "check_catalog_source",
    "check_corrector",
    "check_photometry_method",
    "check_registration",
    "check_validator",
    "forbid_file_access",
]


class FileAccessError(AssertionError):
    """A method, estimator, validator or corrector tried to open a file."""


def _installation_roots() -> tuple[Path, ...]:
    """Directories of the Python installation: stdlib, site-packages, package metadata."""
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
    roots.update(Path(p) for p in sysconfig.get_paths().values())
    roots.update(Path(p) for p in sys.path if p and "site-packages" in p)
    return tuple(r.resolve() for r in roots if r.exists())


@contextlib.contextmanager
def forbid_file_access() -> Iterator[None]:
    """Make opening data files (plain, FITS, HDF5, SQLite) raise :class:`FileAccessError`.

    Libraries may still read their own installed files (package metadata, bundled tables):
    reading anything under the Python installation is allowed, writing never is.
    """
    real_open = builtins.open
    roots = _installation_roots()

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | os.PathLike) and not any(c in mode for c in "wax+"):
            path = Path(file).resolve()
            if any(path.is_relative_to(root) for root in roots):
                return real_open(file, mode, *args, **kwargs)
        raise FileAccessError(f"file access is not allowed here (tried to open {file!r})")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise FileAccessError(f"file access is not allowed here (tried to open {args[:1]!r})")

    patches = [
        mock.patch.object(builtins, "open", guarded_open),
        mock.patch.object(io, "open", guarded_open),
        mock.patch.object(sqlite3, "connect", refuse),
    ]
    with contextlib.suppress(ImportError):
        import astropy.io.fits

        patches.append(mock.patch.object(astropy.io.fits, "open", refuse))
    with contextlib.suppress(ImportError):
        import h5py

        patches.append(mock.patch.object(h5py, "File", refuse))
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


def _check_class(cls: type) -> list[str]:
    problems = []
    if not NAME_PATTERN.match(getattr(cls, "name", "") or ""):
        problems.append(f"invalid name {getattr(cls, 'name', None)!r}")
    if not (cls.__doc__ or "").strip():
        problems.append("has no docstring (its first line is shown in listings)")
    settings_cls = getattr(cls, "Settings", None)
    if not attrs.has(settings_cls):
        problems.append("Settings is not an attrs class")
    else:
        try:
            settings = settings_cls()
        except Exception as exc:
            problems.append(
                f"Settings() fails without arguments (every setting needs a default): {exc}"
            )
        else:
            fields = attrs.fields(settings_cls)
            if fields:
                try:
                    setattr(settings, fields[0].name, getattr(settings, fields[0].name))
                except attrs.exceptions.FrozenInstanceError:
                    pass
                else:
                    problems.append("Settings should be frozen (@attrs.frozen)")
    return problems


def _run(problems: list[str], what: str, func: Callable[[], Any]) -> Any:
    try:
        with forbid_file_access():
            return func()
    except FileAccessError as exc:
        problems.append(f"{what}: {exc}")
    except Exception as exc:
        problems.append(f"{what} raised {type(exc).__name__}: {exc}")
    return None


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))


def check_photometry_method(cls: type[PhotometryMethod]) -> list[str]:
    """Run ``cls`` on an isolated synthetic Tmag 10 star carrying a 1 % sinusoid.

    Requires: a :class:`PhotometryResult`; finite flux on ≥ 90 % of cadences with positive
    finite errors; mean flux within 25 % of the injected flux; relative light curve
    correlated with the injected signal (r ≥ 0.9); no file access; deterministic output.
    """
    problems = _check_class(cls)
    for datasource in sorted(cls.datasources):
        synth = synthetic_target(datasource=datasource, tmag=10.0, seed=3)
        where = f"on a synthetic {datasource.upper()} target"
        first = _run(problems, f"photometry() {where}", lambda s=synth: cls().photometry(s.data))
        if first is None:
            continue
        if not isinstance(first, PhotometryResult):
            problems.append(
                f"photometry() {where} returned {type(first).__name__}, not PhotometryResult"
            )
            continue
        flux, err = first.flux, first.flux_err
        good = np.isfinite(flux)
        if good.mean() < 0.9:
            problems.append(f"{where}: only {good.mean():.0%} of cadences have a finite flux")
            continue
        if not np.all(np.isfinite(err[good]) & (err[good] > 0)):
            problems.append(f"{where}: flux_err is not finite and positive wherever flux is finite")
        ratio = np.nanmedian(flux) / np.median(synth.flux)
        if not 0.75 <= ratio <= 1.25:
            problems.append(
                f"{where}: median flux is {ratio:.2f} × the injected flux (want 0.75–1.25)"
            )
        rel = flux[good] / np.nanmedian(flux) - 1.0
        r = np.corrcoef(rel, synth.relative[good])[0, 1]
        if not r >= 0.9:
            problems.append(
                f"{where}: light curve correlates with the injected signal at r={r:.2f} (want ≥ 0.9)"
            )
        second = _run(
            problems, f"second photometry() {where}", lambda s=synth: cls().photometry(s.data)
        )
        if isinstance(second, PhotometryResult) and not (
            _same(first.flux, second.flux) and _same(first.flux_err, second.flux_err)
        ):
            problems.append(f"{where}: two runs on the same data gave different light curves")
    return problems


def check_background_estimator(cls: type[BackgroundEstimator]) -> list[str]:
    """Run ``cls`` on a synthetic frame with a known smooth sky, stars, noise and a masked block.

    Requires: a :class:`BackgroundEstimate` of the right shape, finite everywhere; masked
    pixels not marked as used; RMS relative residual against the true sky ≤ 5 %; inputs
    unchanged; no file access.
    """
    problems = _check_class(cls)
    frame = synthetic_frame()
    image = frame.image.copy()
    est = _run(
        problems,
        "estimate() on a synthetic frame",
        lambda: cls().estimate(image, mask=frame.mask, geometry=frame.geometry),
    )
    if est is None:
        return problems
    if not isinstance(est, BackgroundEstimate):
        return [*problems, f"estimate() returned {type(est).__name__}, not BackgroundEstimate"]
    if not np.array_equal(image, frame.image):
        problems.append("estimate() modified its input image")
    if np.shape(est.background) != frame.image.shape or np.shape(est.used) != frame.image.shape:
        return [*problems, "background and used must have the shape of the image"]
    if not np.all(np.isfinite(est.background)):
        problems.append("background has non-finite values")
    if np.asarray(est.used)[frame.mask].any():
        problems.append("masked pixels are marked as used")
    good = ~frame.mask
    resid = (np.asarray(est.background, float)[good] - frame.background[good]) / frame.background[
        good
    ]
    rms = float(np.sqrt(np.nanmean(resid**2)))
    if not rms <= 0.05:
        problems.append(f"RMS residual against the true sky is {rms:.1%} (want ≤ 5 %)")
    return problems


def check_validator(cls: type[Validator]) -> list[str]:
    """Run ``cls`` on a synthetic diagnostics table.

    Requires: a :class:`ValidationResult` with one integer per row using only DATAVAL bits;
    the table unchanged; deterministic; no file access.
    """
    problems = _check_class(cls)
    table = synthetic_validation_table()
    before = table.copy()
    result = _run(problems, "validate() on a synthetic table", lambda: cls().validate(table))
    if result is None:
        return problems
    if not isinstance(result, ValidationResult):
        return [*problems, f"validate() returned {type(result).__name__}, not ValidationResult"]
    if result.flags.shape != (len(table),):
        return [*problems, f"validate() returned {result.flags.shape} flags for {len(table)} rows"]
    allowed = DATAVAL.mask(f.name for f in DATAVAL)
    if np.any(result.flags & ~allowed) or np.any(result.flags < 0):
        problems.append("flags contain bits that are not DATAVAL flags")
    if any(not np.array_equal(table[c], before[c]) for c in table.colnames):
        problems.append("validate() modified the table")
    again = _run(problems, "second validate()", lambda: cls().validate(table))
    if isinstance(again, ValidationResult) and not np.array_equal(again.flags, result.flags):
        problems.append("two runs on the same table gave different flags")
    return problems


def check_corrector(cls: type[Corrector]) -> list[str]:
    """Correct a synthetic star sharing a common trend with 59 neighbours.

    Requires: a :class:`CorrectionResult` in ppm of the input length, finite on ≥ 80 % of
    cadences; the RMS against the true intrinsic signal reduced by ≥ 30 % from the raw light
    curve; ≥ 70 % of the injected 0.5 % sinusoid kept; files written only in the work dir.
    """
    problems = _check_class(cls)
    lcs, _common, intrinsic = synthetic_light_curves()
    with tempfile.TemporaryDirectory() as tmp:
        context = InMemoryCorrectionContext(lcs, Path(tmp))
        corrector = cls()
        try:
            corrector.prepare(context)
        except Exception as exc:
            return [*problems, f"prepare() raised {type(exc).__name__}: {exc}"]
        result = _run(
            problems,
            "correct() on a synthetic light curve",
            lambda: corrector.correct(lcs[0], context),
        )
    if result is None:
        return problems
    if not isinstance(result, CorrectionResult):
        return [*problems, f"correct() returned {type(result).__name__}, not CorrectionResult"]
    if len(result.flux) != len(lcs[0]):
        return [*problems, f"correct() returned {len(result.flux)} points for {len(lcs[0])}"]
    good = np.isfinite(result.flux)
    if good.mean() < 0.8:
        return [*problems, f"only {good.mean():.0%} of corrected points are finite"]
    truth = intrinsic[0] * 1e6
    raw = (lcs[0].flux / np.median(lcs[0].flux) - 1.0) * 1e6
    corrected = result.flux - np.nanmedian(result.flux)
    raw_rms = np.std((raw - truth)[good] - np.median((raw - truth)[good]))
    new_rms = np.std((corrected - truth)[good] - np.median((corrected - truth)[good]))
    if not new_rms <= 0.7 * raw_rms:
        problems.append(
            f"residual RMS {new_rms:.0f} ppm vs raw {raw_rms:.0f} ppm: systematics not removed"
        )
    design = np.column_stack([truth[good] / 1e6, np.ones(good.sum())])
    amp = np.linalg.lstsq(design, corrected[good] / 1e6, rcond=None)[0][0]
    if not amp >= 0.7:
        problems.append(f"kept {amp:.0%} of the injected signal amplitude (want ≥ 70 %)")
    return problems


def check_catalog_source(cls: type[CatalogSource]) -> list[str]:
    """Class-level checks only: querying needs the source's own data."""
    return _check_class(cls)


_CHECKS: tuple[tuple[type, Callable[[Any], list[str]]], ...] = (
    (PhotometryMethod, check_photometry_method),
    (BackgroundEstimator, check_background_estimator),
    (Validator, check_validator),
    (Corrector, check_corrector),
    (CatalogSource, check_catalog_source),
)


def check_registration(registration: Registration) -> list[str]:
    """Run the family's conformance check on a registered class."""
    for base, check in _CHECKS:
        if issubclass(registration.cls, base):
            return check(registration.cls)
    return [f"{registration.cls!r} belongs to no known family"]


def assert_conformance(plugin: ModuleType | object, name: str | None = None) -> list[Registration]:
    """Register ``plugin`` in an isolated manager and check every class it registers.

    Raises
    ------
    AssertionError
        Listing every problem found, or if the plugin fails to load or registers nothing.

    Returns
    -------
    list of Registration
        What was checked.
    """
    plugin_name = name or getattr(plugin, "__name__", "plugin")
    pm = get_plugin_manager(entrypoints=False, builtins=False)
    pm.add_plugin(plugin, plugin_name)
    registries = pm.registries
    if plugin_name in pm.broken:
        raise AssertionError(pm.broken[plugin_name].describe())
    checked = [reg for registry in registries.by_family().values() for reg in registry]
    if not checked and not pm.get_hookcallers(pm.get_plugin(plugin_name)):
        raise AssertionError(f"plugin {plugin_name!r} implements no hooks")
    report = []
    for reg in checked:
        report += [f"{reg.name}: {p}" for p in check_registration(reg)]
    if report:
        raise AssertionError(f"plugin {plugin_name!r} does not conform:\n  " + "\n  ".join(report))
    return checked
