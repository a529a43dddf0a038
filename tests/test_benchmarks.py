"""The benchmark scripts are importable, say how to run them and have a ``main()``.

Benchmarks are never run here (they take minutes); ``run_all`` is exercised on two tiny
stand-in scripts.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
SCRIPTS = [*sorted(BENCHMARKS.glob("bench_*.py")), BENCHMARKS / "run_all.py"]


@pytest.fixture
def bench_import(monkeypatch: pytest.MonkeyPatch):
    """Import a script from benchmarks/ as a module; the environment is restored afterwards."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    saved = dict(os.environ)
    loaded: list[str] = []

    def load(path: Path) -> ModuleType:
        name = f"_tasoc_benchmark_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)
    # Some benchmarks pin BLAS to one thread at import: keep that out of other tests.
    os.environ.clear()
    os.environ.update(saved)


def test_there_is_a_benchmark_per_stage() -> None:
    names = {p.stem.removeprefix("bench_") for p in SCRIPTS}
    for stage in ("taskfarm", "todo", "prepare", "stamp_read", "timing", "aperture", "halo",
                  "output", "photometry", "cbv", "ensemble", "correct"):  # fmt: skip
        assert stage in names, f"benchmarks/bench_{stage}.py is missing"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_says_how_to_run_it_and_has_main(path: Path, bench_import) -> None:
    module = bench_import(path)
    doc = module.__doc__ or ""
    assert f"python benchmarks/{path.name}" in doc, (
        f"{path.name}: the module docstring does not say how to run it "
        f"('python benchmarks/{path.name} ...')"
    )
    assert callable(getattr(module, "main", None)), f"{path.name} has no main()"
    required = [
        p
        for p in inspect.signature(module.main).parameters.values()
        if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    assert not required, f"{path.name}: main() needs arguments {[p.name for p in required]}"


def test_run_all_knows_only_existing_benchmarks(bench_import) -> None:
    run_all = bench_import(BENCHMARKS / "run_all.py")
    names = {p.stem.removeprefix("bench_") for p in BENCHMARKS.glob("bench_*.py")}
    assert set(run_all.BENCHMARKS) <= names, set(run_all.BENCHMARKS) - names
    assert run_all.discover()[: len(run_all.BENCHMARKS)] == list(run_all.BENCHMARKS)


def test_run_all_writes_figures_verbatim_and_names_failures(
    tmp_path: Path, bench_import, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    run_all = bench_import(BENCHMARKS / "run_all.py")
    fake = tmp_path / "benchmarks"
    fake.mkdir()
    (fake / "bench_good.py").write_text(
        '"""A good one.\n\nRun: python benchmarks/bench_good.py"""\n'
        'import sys\nprint("widgets per second   123.4  (reference 61.7, ratio 2.00)")\n'
        'print("args", sys.argv[1:])\n'
    )
    (fake / "bench_bad.py").write_text('"""A broken one."""\nraise RuntimeError("kaputt")\n')
    monkeypatch.setattr(run_all, "HERE", fake)
    monkeypatch.setattr(
        run_all, "BENCHMARKS", {"good": run_all.Benchmark("≥ 100 widgets/s", quick=("--small",))}
    )
    out = tmp_path / "benchmarks.md"
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--quick", "--output", str(out)])
    assert run_all.main() == 1
    err = capsys.readouterr().err
    assert "failed benchmarks: bench_bad" in err
    text = out.read_text()
    assert "widgets per second   123.4  (reference 61.7, ratio 2.00)" in text
    assert "args ['--small']" in text  # the quick arguments were passed
    assert "≥ 100 widgets/s" in text
    assert "## bench_bad" in text
    assert "**FAILED** (exit 1)" in text
    assert "RuntimeError: kaputt" in text
    for key in ("CPU", "cores", "Python", "numpy", "date", "load average"):
        assert key in text
    # --only selects; an unknown name is refused with the known ones listed.
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--only", "good", "--output", str(out)])
    assert run_all.main() == 0
    assert "## bench_bad" not in out.read_text()
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--only", "nope", "--output", str(out)])
    with pytest.raises(SystemExit):
        run_all.main()
    assert "unknown benchmark(s) nope" in capsys.readouterr().err
