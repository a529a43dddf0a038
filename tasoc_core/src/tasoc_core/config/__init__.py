"""The run configuration: one TOML file, validated on load.

Where the configuration comes from, first found wins: ``--config PATH``, the environment
variable ``TASOC_CONFIG``, ``./tasoc.toml``; otherwise the defaults. Relative paths in the
file are relative to the file's directory. See ``docs/configuration.md`` for every key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import attrs
import tomli_w

from tasoc_core.config._structure import structure, unstructure
from tasoc_core.exceptions import ConfigError
from tasoc_core.flags import DATAVAL, DATAVAL_REJECT
from tasoc_core.rules import Rule, RuleSet

__all__ = [
    "CONFIG_ENV",
    "CatalogConfig",
    "Config",
    "ExcludeRule",
    "OutputConfig",
    "PathsConfig",
    "PhotometryConfig",
    "PrepareConfig",
    "ReportConfig",
    "RunConfig",
    "SelectionConfig",
    "TodoConfig",
    "ValidationConfig",
    "find_config_file",
    "load_config",
    "read_toml",
    "structure",
    "unstructure",
]

#: Environment variable naming the configuration file.
CONFIG_ENV = "TASOC_CONFIG"
_DEFAULT_NAME = "tasoc.toml"


def _in_range(low: int, high: int):
    def check(instance: object, attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
        if not value:
            raise ValueError(f"{attribute.name} must not be empty")
        for v in value:
            if not low <= v <= high:
                raise ValueError(f"{attribute.name}: {v} is not between {low} and {high}")

    return check


def _positive_or_none(instance: object, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


def _between(low: int, high: int):
    def check(instance: object, attribute: attrs.Attribute, value: int) -> None:
        if not low <= value <= high:
            raise ValueError(f"{attribute.name}: {value} is not between {low} and {high}")

    return check


def _dataval_bits(instance: object, attribute: attrs.Attribute, value: int) -> None:
    known = DATAVAL.mask(flag.name for flag in DATAVAL)
    if value < 0 or value & ~known:
        raise ValueError(f"{attribute.name}: {value} holds bits that are not DATAVAL flags")


def _number_rules(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    return tuple(attrs.evolve(rule, index=i) for i, rule in enumerate(rules))


@attrs.frozen(kw_only=True)
class PathsConfig:
    """Where inputs are read from and products are written to."""

    #: Directory searched (recursively) for SPOC FFIs and TPFs.
    input: Path = Path(".")
    #: Working directory: catalogs, HDF5 cubes, the TODO-file, light curves, reports.
    output: Path = Path("tasoc-output")
    #: TIC extract (CSV, ECSV or FITS) used by the default catalog source.
    catalog: Path | None = None
    #: Directory of SPICE kernels (leap seconds, planetary and TESS ephemerides).
    spice_kernels: Path | None = None
    #: Directory of TESS PRF files (the mission's ``prf_fitsfiles`` layout or the
    #: simulator's ``prf/``); PSF photometry needs it.
    prf: Path | None = None


@attrs.frozen(kw_only=True)
class SelectionConfig:
    """Which part of the mission to process."""

    sector: int | None = None
    cameras: tuple[int, ...] = attrs.field(default=(1, 2, 3, 4), validator=_in_range(1, 4))
    ccds: tuple[int, ...] = attrs.field(default=(1, 2, 3, 4), validator=_in_range(1, 4))


@attrs.frozen(kw_only=True)
class PhotometryConfig:
    """Method selection: ordered rules, first match wins, then the fallback."""

    #: Method for targets no rule selects; empty string means such targets are not run.
    default_method: str = "aperture"
    rules: tuple[Rule, ...] = attrs.field(default=(), converter=_number_rules)


@attrs.frozen(kw_only=True)
class RunConfig:
    """How tasks are executed."""

    #: ``serial`` (one process), ``processes`` (local worker processes) or ``mpi``.
    backend: Literal["serial", "processes", "mpi"] = "processes"
    #: Worker processes for the ``processes`` backend; default: all CPUs.
    workers: int | None = attrs.field(default=None, validator=_positive_or_none)


def _range_pair(instance: object, attribute: attrs.Attribute, value: tuple | None) -> None:
    if value is None:
        return
    if len(value) != 2 or not value[0] <= value[1]:
        raise ValueError(
            f"{attribute.name} must be [low, high] with low <= high, got {list(value)}"
        )


@attrs.frozen(kw_only=True)
class ExcludeRule:
    """A manual exclusion: pixels flagged ManualExclude (and set to NaN) in some frames.

    Each given criterion must match; leaving one out means "any". ``rows``/``cols`` are
    half-open 0-based CCD pixel ranges; ``cadenceno`` and ``time`` (mid-frame BTJD) are
    inclusive ranges.
    """

    sector: int | None = None
    camera: int | None = None
    ccd: int | None = None
    rows: tuple[int, ...] | None = attrs.field(default=None, validator=_range_pair)
    cols: tuple[int, ...] | None = attrs.field(default=None, validator=_range_pair)
    cadenceno: tuple[int, ...] | None = attrs.field(default=None, validator=_range_pair)
    time: tuple[float, ...] | None = attrs.field(default=None, validator=_range_pair)
    #: Why the pixels are excluded (kept in the HDF5 file).
    reason: str = ""


def _odd_or_none(instance: object, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and (value < 1 or value % 2 == 0):
        raise ValueError(f"{attribute.name} must be a positive odd number of frames, got {value}")


def _at_least(low: float) -> Callable[[object, attrs.Attribute, float], None]:
    def check(instance: object, attribute: attrs.Attribute, value: float) -> None:
        if not value >= low:
            raise ValueError(f"{attribute.name} must be at least {low}, got {value!r}")

    return check


@attrs.frozen(kw_only=True)
class PrepareConfig:
    """``tasoc prepare``: backgrounds, pixel flags and the HDF5 cubes (``docs/prepare.md``)."""

    #: Background estimator (a registered name).
    background: str = "tasoc"
    #: Per-estimator settings, ``[prepare.estimators.<name>]``.
    estimators: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    #: Frames in the moving average of the background; default about 1.5 h (3 frames at
    #: 1800 s, 9 at 600 s, 27 at 200 s).
    time_smooth: int | None = attrs.field(default=None, validator=_odd_or_none)
    #: Median-filtered residual (e-/s) above which a pixel is flagged BackgroundShenanigans.
    shenanigans_threshold: float = attrs.field(default=40.0, validator=_at_least(0.0))
    #: Size of the median filter of the residual images, pixels.
    shenanigans_box: int = attrs.field(default=15, validator=_at_least(3))
    #: Mask stars (found in a median image) when estimating the background.
    source_mask: bool = True
    #: Frames sampled for that median image.
    source_mask_frames: int = attrs.field(default=25, validator=_at_least(3))
    #: Threshold of the source mask, robust σ of the median image's sky.
    source_mask_sigma: float = attrs.field(default=5.0, validator=_at_least(0.0))
    #: Pixels by which the source mask is grown.
    source_mask_grow: int = attrs.field(default=2, validator=_at_least(0))
    #: Mask extended transient features (flares, glints) frame by frame as well.
    transient_mask: bool = True
    #: Threshold of the transient mask, robust σ of the frame-minus-median difference.
    transient_sigma: float = attrs.field(default=5.0, validator=_at_least(0.0))
    #: Smallest group of connected pixels that counts as a transient feature.
    transient_min_pixels: int = attrs.field(default=20, validator=_at_least(1))
    #: Manual exclusions, ``[[prepare.exclude]]`` tables.
    exclude: tuple[ExcludeRule, ...] = ()
    #: Also apply the known exclusions of the original pipeline (Mars in sector 1, ...).
    known_exclusions: bool = True
    #: TPFs of the same CCD whose quality flags are transferred to the FFIs (0: none).
    quality_tpfs: int = attrs.field(default=5, validator=_at_least(0))
    #: Worker processes; default ``run.workers``, else all CPUs.
    workers: int | None = attrs.field(default=None, validator=_positive_or_none)
    #: Cube chunk length in frames; also the number of frames held in memory per write.
    chunk_frames: int = attrs.field(default=64, validator=_at_least(1))
    #: Cube chunk height and width in pixels.
    chunk_pixels: int = attrs.field(default=16, validator=_at_least(1))
    #: Compression of the cubes (``none`` keeps stamp reads fastest; flags use lzf otherwise).
    compression: Literal["none", "lzf", "gzip"] = "none"
    #: A pixel counts as a background pixel when it was used in more than this fraction
    #: of the frames (``backgrounds_pixels_used``).
    used_threshold: float = attrs.field(default=0.5, validator=_at_least(0.0))
    #: Movie: frames per second, maximum number of frames, panel size in pixels.
    movie_fps: int = attrs.field(default=15, validator=_at_least(1))
    movie_max_frames: int = attrs.field(default=200, validator=_at_least(1))
    movie_size: int = attrs.field(default=256, validator=_at_least(16))


def _non_negative(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must be zero or positive, got {value}")


def _tic_keys(instance: object, attribute: attrs.Attribute, value: dict[str, str]) -> None:
    for key in value:
        if not key.isdigit() or int(key) <= 0:
            raise ValueError(f"{attribute.name}: key {key!r} is not a TIC number")


@attrs.frozen(kw_only=True)
class CatalogConfig:
    """``tasoc catalog``: where stars come from and how much sky around each CCD."""

    #: Catalog source (plugin family ``catalog source``); ``file`` reads ``paths.catalog``.
    source: str = "file"
    #: Stars within this many degrees of a CCD's footprint are kept.
    buffer_deg: float = attrs.field(default=0.1, validator=_non_negative)
    #: Faintest TESS magnitude kept in catalog files (default: all).
    tmag_max: float | None = None
    #: Settings per catalog source, ``[catalog.sources.<name>]``.
    sources: dict[str, dict[str, Any]] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class TodoConfig:
    """``tasoc todo``: which targets go into the TODO-file."""

    #: FFI targets and TPF secondary targets must be brighter than this (Tmag <).
    faint_limit: float = 15.0
    #: Add secondary targets found on the collected pixels of TPFs.
    secondaries: bool = True
    #: Data sources to include.
    datasources: tuple[Literal["ffi", "tpf"], ...] = ("ffi", "tpf")
    #: TIC numbers never put in the TODO-file.
    exclude: tuple[int, ...] = ()
    #: Forced photometry method per TIC (``"TIC" = "method"``); others follow the rules.
    forced_methods: dict[str, str] = attrs.field(factory=dict, validator=_tic_keys)


@attrs.frozen(kw_only=True)
class OutputConfig:
    """Light-curve files."""

    #: tasoc processing version: ``v{version:02d}`` in file names, ``VERSION`` in headers.
    version: int = attrs.field(default=1, validator=_between(1, 99))
    #: gzip level of light-curve files, 1 (fastest) to 9 (smallest).
    compression: int = attrs.field(default=6, validator=_between(1, 9))
    #: Flush every file to the storage device before renaming it into place.
    fsync: bool = False


@attrs.frozen(kw_only=True)
class ValidationConfig:
    """Data validation: which validators run and which DATAVAL bits withhold a target."""

    #: DATAVAL bits that withhold a target from release (default 13408).
    reject_mask: int = attrs.field(default=DATAVAL_REJECT, validator=_dataval_bits)
    #: Registered validators not to run.
    skip: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class ReportConfig:
    """``tasoc report``: the HTML report of a TODO-file (``docs/report.md``)."""

    #: Targets drawn one by one (sum image, light curves, spectra), spread over magnitude.
    targets: int = attrs.field(default=12, validator=_at_least(0))
    #: Width of the magnitude bins of binned statistics and comparisons.
    bin_width: float = attrs.field(default=1.0, validator=attrs.validators.gt(0.0))
    #: Embed the figures in report.html (one self-contained file); False links figures/.
    embed: bool = True
    #: Resolution of the PNG figures.
    dpi: int = attrs.field(default=90, validator=_between(30, 600))


@attrs.frozen(kw_only=True)
class Config:
    """The whole run configuration."""

    paths: PathsConfig = PathsConfig()
    selection: SelectionConfig = SelectionConfig()
    photometry: PhotometryConfig = PhotometryConfig()
    run: RunConfig = RunConfig()
    catalog: CatalogConfig = CatalogConfig()
    todo: TodoConfig = TodoConfig()
    output: OutputConfig = OutputConfig()
    validation: ValidationConfig = ValidationConfig()
    prepare: PrepareConfig = PrepareConfig()
    report: ReportConfig = ReportConfig()
    #: Per-method settings, ``[methods.<name>]``; validated against each method's Settings.
    methods: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    #: Per-corrector settings, ``[correctors.<name>]``.
    correctors: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    #: Per-validator settings, ``[validators.<name>]``.
    validators: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    #: The file this configuration was read from (not part of the TOML).
    source: Path | None = attrs.field(default=None, metadata={"serialize": False})

    def rule_set(self, extra_rules: tuple[Rule, ...] = ()) -> RuleSet:
        """The rule table: configured rules, then ``extra_rules`` (from plugins), then fallback."""
        return RuleSet(self.photometry.rules + extra_rules, self.photometry.default_method or None)

    def settings_for(
        self,
        section: Literal["methods", "correctors", "validators"],
        name: str,
        settings_cls: type,
    ) -> Any:
        """Structured settings of method, corrector or validator ``name`` from its table."""
        table = getattr(self, section).get(name, {})
        return structure(settings_cls, table, f"{section}.{name}")

    def to_dict(self) -> dict[str, Any]:
        return unstructure(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


def _resolve_paths(paths: PathsConfig, base: Path) -> PathsConfig:
    def fix(p: Path | None) -> Path | None:
        return None if p is None or p.is_absolute() else (base / p)

    changes = {f.name: fix(getattr(paths, f.name)) for f in attrs.fields(PathsConfig)}
    return attrs.evolve(paths, **{k: v for k, v in changes.items() if v is not None})


def find_config_file(explicit: Path | None = None) -> Path | None:
    """The configuration file to use: explicit, ``$TASOC_CONFIG``, ``./tasoc.toml`` or None."""
    if explicit is not None:
        return explicit
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    local = Path.cwd() / _DEFAULT_NAME
    return local if local.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    """The tables of a configuration file, unvalidated.

    Raises
    ------
    ConfigError
        If the file is missing, unreadable or not valid TOML (the message names the file).
    """
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"configuration file {path} cannot be read: {exc.strerror}") from None


def load_config(path: Path | None = None, *, overrides: dict[str, Any] | None = None) -> Config:
    """Read and validate a configuration.

    Parameters
    ----------
    path
        TOML file; None gives the defaults.
    overrides
        Values to merge over the file, as nested tables (used by command-line options).

    Raises
    ------
    ConfigError
        If the file cannot be read or parsed, or a value is invalid (the message names the
        key and the value).
    """
    data: dict[str, Any] = read_toml(path) if path is not None else {}
    if overrides:
        data = _merge(data, overrides)
    config = structure(Config, data)
    if path is not None:
        config = attrs.evolve(
            config,
            paths=_resolve_paths(config.paths, Path(path).resolve().parent),
            source=Path(path),
        )
    return config


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
