"""The Grafana dashboard: built by its script (not hand-edited), accepted by Grafana's own TypeScript
types (npm @grafana/schema + typescript, `satisfies Dashboard`, `tsc --noEmit`), every panel query
parsed by promtool, every metric it names exported by tradestack or recorded by our rules."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from monitoring.support import GRAFANA, RULES, missing, require, run
from monitoring.test_rules import full_registry_exposition

DASHBOARD = GRAFANA / "dashboards" / "tradestack.json"
TSC = GRAFANA / "node_modules" / "typescript" / "bin" / "tsc"
SCHEMA_TYPES = GRAFANA / "node_modules" / "@grafana" / "schema" / "dist" / "types" / "index.d.ts"
ISSUE_PANELS = {
    "Fill latency percentiles per venue",
    "Position drift",
    "Market data age",  # a heatmap
    "WebSocket connection state",
    "Reconnects",
    "Book gaps and resyncs",
    "Rejections",
    "Rate-limit usage",
    "PnL",
    "Kill switch",
}


def builder() -> ModuleType:
    try:
        import grafana_foundation_sdk  # noqa: F401
    except ImportError:
        missing("the grafana-foundation-sdk Python package (PyPI grafana-foundation-sdk)")
    spec = importlib.util.spec_from_file_location("build_dashboard", GRAFANA / "build_dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def expressions() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


def test_the_committed_json_is_what_the_builder_makes() -> None:
    assert builder().main(["--check"]) == 0, "run deploy/monitoring/grafana/build_dashboard.py"


def test_the_dashboard_has_the_panels_the_issue_asks_for() -> None:
    titles = {panel["title"] for panel in panels()}
    assert titles >= ISSUE_PANELS, ISSUE_PANELS - titles
    kinds = {panel["title"]: panel["type"] for panel in panels()}
    assert kinds["Market data age"] == "heatmap" and kinds["Kill switch"] == "stat"
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))


def tsc_check(tmp_path: Path, document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    node = require("node")
    if not TSC.exists() or not SCHEMA_TYPES.exists():
        missing(f"npm packages in {GRAFANA / 'node_modules'} (typescript, @grafana/schema)")
    source = tmp_path / "dashboard.ts"
    # Grafana's types use TypeScript string enums (MappingType, ThresholdsMode...), which a JSON string can
    # never satisfy; `Json<T>` turns each enum into the union of its string values (`${MappingType}` is
    # "value" | "range" | ...), which is exactly what a dashboard JSON file holds. Nothing else is loosened.
    source.write_text(
        'import type { Dashboard } from "@grafana/schema";\n'
        "type Json<T> = T extends string ? `${T}` : T extends object ? { [K in keyof T]: Json<T[K]> } : T;\n"
        f"export const dashboard = {json.dumps(document, indent=2)} satisfies Json<Dashboard>;\n"
    )
    config = {
        "compilerOptions": {
            "strict": True,
            "noEmit": True,
            "target": "es2022",
            "module": "esnext",
            "moduleResolution": "bundler",
            "skipLibCheck": True,
            "types": [],
            "paths": {"@grafana/schema": [str(SCHEMA_TYPES)]},
        },
        "files": [str(source)],
    }
    (tmp_path / "tsconfig.json").write_text(json.dumps(config))
    return subprocess.run(
        [node, str(TSC), "--project", str(tmp_path / "tsconfig.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_grafanas_own_types_accept_the_dashboard(tmp_path: Path) -> None:
    result = tsc_check(tmp_path, dashboard())
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafanas_types_reject_what_the_builder_emits_unstripped(tmp_path: Path) -> None:
    """The check bites: `"options": null` as the builder emits it, and a wrong type, fail tsc."""
    bad = copy.deepcopy(dashboard())
    bad["panels"][1]["options"] = None
    bad["panels"][2]["gridPos"]["h"] = "eight"
    result = tsc_check(tmp_path, bad)
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if "error TS" in line]
    assert len(errors) == 2, result.stdout
    assert "Type 'null' is not assignable" in result.stdout, result.stdout
    assert "Type 'string' is not assignable to type 'number'" in result.stdout, result.stdout


def test_promtool_parses_every_panel_query(tmp_path: Path) -> None:
    assert expressions()
    rules = {
        "groups": [
            {
                "name": "grafana-panel-queries",
                "rules": [
                    {"record": f"grafana:panel_query_{n}", "expr": e} for n, e in enumerate(expressions())
                ],
            }
        ]
    }
    path = tmp_path / "panel-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    output = run(require("promtool"), "check", "rules", str(path))
    assert f"SUCCESS: {len(expressions())} rules found" in output


def test_every_metric_the_dashboard_names_exists() -> None:
    exported = set(re.findall(r"^# TYPE (\S+)", full_registry_exposition(), flags=re.MULTILINE))
    series = exported | {f"{name}_bucket" for name in exported} | {f"{name}_total" for name in exported}
    recorded = {
        rule["record"]
        for g in yaml.safe_load(RULES.read_text())["groups"]
        for rule in g["rules"]
        if "record" in rule
    }
    for expr in expressions():
        for name in re.findall(r"(?<![:\w])trading_[a-z_]+\b", expr):
            assert name in series, f"{expr}: {name} is not a tradestack metric"
        for name in re.findall(r"\b[a-z_]+:[a-z_0-9]+:[a-z_0-9]+\b", expr):
            assert name in recorded, f"{expr}: {name} is not recorded by our rules"


def test_the_provisioning_files_are_grafana_provisioning_documents() -> None:
    dashboards = yaml.safe_load((GRAFANA / "provisioning" / "dashboards.yml").read_text())
    assert dashboards["apiVersion"] == 1 and dashboards["providers"][0]["type"] == "file"
    sources = yaml.safe_load((GRAFANA / "provisioning" / "datasources.yml").read_text())
    assert sources["datasources"][0]["type"] == "prometheus"
    variable = dashboard()["templating"]["list"][0]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
