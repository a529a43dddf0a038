"""Stamp reads from the prepare HDF5 file: a 15×15 stamp over all 1300 cadences.

Run: ``python benchmarks/bench_stamp_read.py [frames]``. The requirement is ≤ 10 ms for a
15×15 stamp over 1300 cadences. The file is made by ``prepare_ccd`` itself from 1300
synthetic 128×128 sub-frame FFIs (a stamp read touches only the chunks under the stamp,
so the frame size does not matter, and a full 2048² CCD would need 70 GB of disk). Then
the same cubes are written in other chunk layouts for comparison, and in the original
pipeline's layout (one 2-D dataset per frame and cube, 64×64 chunks, lzf + shuffle +
fletcher32), the reference. Reads are from the page cache (the files are small enough);
the figure is the median over random stamp positions.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tasoc_core" / "tests" / "prepare"))

from conftest import make_sector  # noqa: E402
from tasoc_core.config import PrepareConfig  # noqa: E402
from tasoc_core.data import HDF5Source, Stamp  # noqa: E402
from tasoc_core.prepare import prepare_ccd  # noqa: E402

CUBES = ("images", "images_err", "backgrounds", "pixel_flags")


def _median_ms(func, positions) -> float:
    func(*positions[0])
    times = []
    for r, c in positions:
        start = time.perf_counter()
        func(r, c)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def main(frames: int = 1300) -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(dir=HERE.parent) as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        sector = make_sector(tmp / "in", n=frames, shape=(128, 128), nstars=40, jitter_scale=0.02)
        made = time.perf_counter() - start
        start = time.perf_counter()
        result = prepare_ccd(1, 1, 1, input_dir=tmp / "in", output_dir=tmp / "out",
                             settings=PrepareConfig(), workers=2)  # fmt: skip
        print(f"prepared {frames} frames of 128x128 in {time.perf_counter() - start:.1f} s "
              f"(writing the FFIs took {made:.1f} s)")  # fmt: skip
        del sector
        origin = (0, 44)
        positions = [(int(r), int(c)) for r, c in rng.integers(0, 128 - 15, size=(200, 2))]

        src = HDF5Source(result.path)

        def read_all(r: int, c: int) -> None:
            src.read(Stamp(r + origin[0], r + origin[0] + 15, c + origin[1], c + origin[1] + 15))

        with h5py.File(result.path, "r") as f:
            cubes = {name: f[name][()] for name in CUBES}
            chunks = f["images"].chunks
            images = f["images"]
            t_images = _median_ms(lambda r, c: images[:, r : r + 15, c : c + 15], positions)
        t_all = _median_ms(read_all, positions)
        src.close()
        print(f"\nchosen layout: chunks {chunks}, uncompressed")
        print(f"  images cube only                       {t_images:7.2f} ms")
        print(f"  HDF5Source.read (all four cubes)       {t_all:7.2f} ms   (requirement <= 10 ms)")

        print("\nother layouts (images / all four cubes):")
        layouts = [((frames, 16, 16), None), ((64, 8, 8), None), ((128, 16, 16), None),
                   ((256, 16, 16), None), ((64, 16, 16), "lzf")]  # fmt: skip
        for chunk, comp in layouts:
            path = tmp / "layout.hdf5"
            with h5py.File(path, "w") as f:
                for name, data in cubes.items():
                    opts = {"compression": comp, "shuffle": comp is not None}
                    f.create_dataset(
                        name, data=data, chunks=(min(chunk[0], frames), *chunk[1:]), **opts
                    )
            with h5py.File(path, "r") as f:
                ds = [f[name] for name in CUBES]
                t1 = _median_ms(lambda r, c, d=ds[0]: d[:, r : r + 15, c : c + 15], positions[:60])
                t4 = _median_ms(
                    lambda r, c, dd=ds: [d[:, r : r + 15, c : c + 15] for d in dd], positions[:60]
                )
            size = path.stat().st_size / 1e6
            print(
                f"  chunks {chunk!s:16s} {comp or 'none':4s}  {t1:7.2f} ms / {t4:7.2f} ms   ({size:.0f} MB)"
            )
            path.unlink()

        path = tmp / "per_frame.hdf5"
        with h5py.File(path, "w") as f:
            for name, data in cubes.items():
                group = f.create_group(name)
                for k in range(frames):
                    group.create_dataset(f"{k:04d}", data=data[k], chunks=(64, 64), compression="lzf",
                                         shuffle=True, fletcher32=True)  # fmt: skip
        with h5py.File(path, "r") as f:
            groups = [f[name] for name in CUBES]
            keys = [f"{k:04d}" for k in range(frames)]

            def naive(r: int, c: int) -> None:
                for g in groups:
                    np.stack([g[k][r : r + 15, c : c + 15] for k in keys])

            t_naive = _median_ms(naive, positions[:10])
            t_naive1 = _median_ms(
                lambda r, c: np.stack([groups[0][k][r : r + 15, c : c + 15] for k in keys]),
                positions[:10],
            )
        print(
            f"\nreference: one dataset per frame (original layout)  {t_naive1:7.2f} ms / {t_naive:7.2f} ms"
        )
        print(f"ratio chosen / reference: images {t_images / t_naive1:.3f}, all cubes {t_all / t_naive:.3f} "
              f"({t_naive / t_all:.0f}x faster)")  # fmt: skip
        verdict = "PASS" if t_all <= 10.0 else "FAIL"
        print(
            f"15x15 stamp, {frames} cadences, all four cubes: {t_all:.2f} ms ({verdict}: <= 10 ms)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1300)
