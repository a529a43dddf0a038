"""The documentation says what the code does: hooks, flags, configuration keys, quick start."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

import attrs

from tasoc_core import config, flags, hookspecs

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def hook_signatures() -> dict[str, str]:
    out = {}
    for name in hookspecs.__all__:
        if name.startswith("tasoc_"):
            sig = inspect.signature(getattr(hookspecs, name))
            params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
            out[name] = f"def {name}({params}) -> {sig.return_annotation}"
    return out


def test_every_hook_is_documented_with_its_exact_signature():
    text = (DOCS / "plugins.md").read_text()
    signatures = hook_signatures()
    assert len(signatures) >= 7
    for name, signature in signatures.items():
        assert f"### `{name}`" in text, f"docs/plugins.md has no section for {name}"
        assert signature in text, f"docs/plugins.md does not show the signature {signature!r}"


def test_no_documented_hook_is_missing_from_the_specs():
    documented = set(re.findall(r"^### `(tasoc_\w+)`", (DOCS / "plugins.md").read_text(), re.M))
    assert documented == set(hook_signatures())


def test_flag_tables_are_generated_from_the_registry():
    assert (DOCS / "flags.md").read_text() == flags.render_markdown(), (
        "docs/flags.md is stale: run `python -m tasoc_core.flags > docs/flags.md`"
    )


def test_every_configuration_key_is_documented():
    text = (DOCS / "configuration.md").read_text()
    hints = typing.get_type_hints(config.Config)
    sections = 0
    for field in attrs.fields(config.Config):
        if field.metadata.get("serialize") is False:
            continue
        assert f"`[{field.name}" in text, f"section [{field.name}] is not documented"
        section = hints[field.name]
        if attrs.has(section):
            sections += 1
            for sub in attrs.fields(section):
                assert f"`{sub.name}`" in text, f"key {field.name}.{sub.name} is not documented"
    assert sections >= 4


def test_readme_quick_start_is_two_commands_and_ci_runs_the_second():
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", readme, re.S)
    assert block, "README has no '## Quick start' sh block"
    commands = [
        line
        for line in block.group(1).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert len(commands) == 2
    assert commands[1] in (REPO / ".ci" / "run").read_text()
