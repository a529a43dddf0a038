"""Opening the pixel sources of targets: the HDF5 cube of a CCD or a target's TPF.

Sources are cached per worker: consecutive targets on one CCD share the open cube, and a
TPF with secondary targets is read once. Catalog stars come from the CCD's catalog file.
"""

from __future__ import annotations

import collections
import logging
from pathlib import Path

from tasoc_core.catalog import catalog_path
from tasoc_core.catalog.lookup import make_stars_lookup
from tasoc_core.config import Config
from tasoc_core.data.source import PixelSource
from tasoc_core.data.target import Target
from tasoc_core.data.tpf_source import TPFSource
from tasoc_core.exceptions import TargetError
from tasoc_core.prepare import hdf5_path
from tasoc_core.timing import SpiceKernels

__all__ = ["SourceCache"]

logger = logging.getLogger(__name__)

#: How many sources a worker keeps open (a full-sector 2-min TPF is tens of MB).
_CACHE_SIZE = 8
# Radius (degrees) of catalog stars loaded around a TPF: stamps are at most a few hundred px.
_TPF_CATALOG_RADIUS = 1.0


class SourceCache:
    """Pixel sources of targets, kept open for the next targets.

    Parameters
    ----------
    config
        The run configuration (input, output and kernel paths).
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._cache: collections.OrderedDict[tuple, PixelSource] = collections.OrderedDict()
        self._kernels: SpiceKernels | None = None

    @property
    def kernels(self) -> SpiceKernels | None:
        """SPICE kernels of ``paths.spice_kernels`` (loaded once per worker), or None."""
        if self._kernels is None and self.config.paths.spice_kernels is not None:
            self._kernels = SpiceKernels(self.config.paths.spice_kernels)
        return self._kernels

    def get(self, target: Target, tpf_path: str | None) -> PixelSource:
        """The source holding ``target``'s pixels, with its catalog attached."""
        if target.is_ffi:
            key: tuple = ("ffi", target.sector, target.camera, target.ccd)
        else:
            if not tpf_path:
                raise TargetError(f"{target}: the TODO-file names no TPF for this target")
            key = ("tpf", tpf_path)
        source = self._cache.get(key)
        if source is None:
            source = self._open(target, tpf_path)
            self._cache[key] = source
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return source

    def _catalog(self, target: Target) -> Path:
        path = catalog_path(
            Path(self.config.paths.output) / "catalog", target.sector, target.camera, target.ccd
        )
        if not path.is_file():
            raise TargetError(f"{target}: catalog {path} is missing (run `tasoc catalog`)")
        return path

    def _open(self, target: Target, tpf_path: str | None) -> PixelSource:
        catalog = self._catalog(target)
        if not target.is_ffi:
            path = Path(tpf_path)
            if not path.is_absolute():
                path = Path(self.config.paths.input) / path
            source = TPFSource(path)
            source.kernels = self.kernels
            if source.wcs is not None:
                source.stars_lookup = make_stars_lookup(
                    catalog, source.wcs, around=(target.ra, target.dec, _TPF_CATALOG_RADIUS)
                )
            return source
        from tasoc_core.data.hdf5_source import HDF5Source

        cube = hdf5_path(Path(self.config.paths.output), target.sector, target.camera, target.ccd)
        if not cube.is_file():
            raise TargetError(f"{target}: {cube} is missing (run `tasoc prepare`)")
        source = HDF5Source(cube)
        source.stars_lookup = make_stars_lookup(catalog, source.wcs)
        source.kernels = self.kernels
        if source.kernels is None:
            logger.warning(
                "paths.spice_kernels is not set: FFI targets of %s keep the frame's barycentric "
                "times (off by up to minutes across a camera)",
                cube.name,
            )
        return source
