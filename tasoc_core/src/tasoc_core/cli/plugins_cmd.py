"""``tasoc plugins``: what is installed, and why a plugin does not work."""

from __future__ import annotations

from typing import Any

import click

from tasoc_core.cli._app import AppContext, cli, echo_json, pass_app
from tasoc_core.plugins import TasocPluginManager
from tasoc_core.plugins.registry import FAMILIES

__all__ = ["plugins", "plugins_report"]


def plugins_report(pm: TasocPluginManager) -> dict[str, Any]:
    """Installed, broken and disabled plugins with what each registers (JSON-ready)."""
    registries, conflicts = pm.registries_lenient()
    rows = []
    for name, info in sorted(pm.info.items()):
        state = "broken" if name in pm.broken else "ok"
        rows.append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "origin": info.origin,
                "status": state,
                "provides": registries.registered_by(name) if state == "ok" else {},
                "error": pm.broken[name].error if state == "broken" else None,
            }
        )
    for name, broken in sorted(pm.broken.items()):
        if name not in pm.info:
            rows.append(
                {
                    "name": name,
                    "distribution": broken.distribution,
                    "version": broken.version,
                    "origin": "entry point",
                    "status": "broken",
                    "provides": {},
                    "error": broken.error,
                }
            )
    for name in sorted(pm.disabled):
        rows.append(
            {
                "name": name,
                "distribution": None,
                "version": None,
                "origin": "entry point",
                "status": "disabled",
                "provides": {},
                "error": None,
            }
        )
    return {"plugins": rows, "conflicts": [str(c) for c in conflicts]}


def _provides_text(provides: dict[str, list[str]]) -> str:
    labels = {attr: family for attr, family, *_ in FAMILIES}
    return "; ".join(f"{labels[k]}: {', '.join(v)}" for k, v in provides.items()) or "-"


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@click.pass_context
def plugins(ctx: click.Context, app: AppContext, as_json: bool) -> None:
    """List installed plugins, their versions and what they register."""
    if ctx.invoked_subcommand is not None:
        return
    report = plugins_report(app.pm)
    if as_json:
        echo_json(report)
    else:
        header = ("PLUGIN", "DISTRIBUTION", "VERSION", "STATUS", "PROVIDES")
        lines = [
            (
                r["name"],
                r["distribution"] or "-",
                r["version"] or "-",
                r["status"],
                r["error"] if r["status"] == "broken" else _provides_text(r["provides"]),
            )
            for r in report["plugins"]
        ]
        widths = [max(len(str(x)) for x in col) for col in zip(header, *lines[:], strict=False)][:4]
        for row in (header, *lines):
            click.echo(
                "  ".join(str(v).ljust(w) for v, w in zip(row[:4], widths)) + "  " + str(row[4])
            )
    for conflict in report["conflicts"]:
        click.echo(f"Error: {conflict}", err=True)
    if report["conflicts"]:
        ctx.exit(1)


@plugins.command("check")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@click.pass_context
def check(ctx: click.Context, app: AppContext, name: str, as_json: bool) -> None:
    """Diagnose plugin NAME: load state, hooks, registrations and conformance checks."""
    from tasoc_core.testing.conformance import check_registration

    pm = app.pm
    result: dict[str, Any] = {"name": name}
    ok = True
    if name in pm.broken:
        broken = pm.broken[name]
        result.update(
            status="broken",
            stage=broken.stage,
            error=broken.error,
            traceback=broken.detail,
            distribution=broken.distribution,
            version=broken.version,
        )
        ok = False
    elif name in pm.disabled:
        result.update(status="disabled")
        ok = False
    elif name not in pm.info:
        known = ", ".join(sorted(set(pm.info) | set(pm.broken))) or "none"
        result.update(
            status="not installed", error=f"no plugin named {name!r} (installed: {known})"
        )
        ok = False
    else:
        info = pm.info[name]
        plugin = pm.get_plugin(name)
        hooks = sorted(hc.name for hc in pm.get_hookcallers(plugin) or ())
        registries, conflicts = pm.registries_lenient()
        problems: dict[str, list[str]] = {}
        for registry in registries.by_family().values():
            for reg in registry:
                if reg.plugin == name:
                    problems[f"{registry.family} {reg.name}"] = check_registration(reg)
        mine = [str(c) for c in conflicts if name in c.plugins]
        ok = not any(problems.values()) and not mine and name not in pm.broken
        result.update(
            status="ok" if ok else "problems",
            distribution=info.distribution,
            version=info.version,
            module=info.module,
            origin=info.origin,
            hooks=hooks,
            conflicts=mine,
            checks={k: (v or ["ok"]) for k, v in problems.items()},
        )
    if as_json:
        echo_json(result)
    else:
        click.echo(f"plugin {name}: {result['status']}")
        for key in ("distribution", "version", "module", "origin", "stage", "error"):
            if result.get(key):
                click.echo(f"  {key}: {result[key]}")
        for hook in result.get("hooks", []):
            click.echo(f"  implements {hook}")
        for item, messages in result.get("checks", {}).items():
            for message in messages:
                click.echo(f"  {item}: {message}")
        for conflict in result.get("conflicts", []):
            click.echo(f"  conflict: {conflict}")
        if result.get("traceback") and app.verbosity > 0:
            click.echo(result["traceback"], err=True)
    if not ok:
        ctx.exit(1)
