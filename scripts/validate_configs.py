#!/usr/bin/env python3
"""Pre-deploy check: every config file and every overlay is valid and they agree.

For each overlay of deploy/k8s (or those named): `tradestack validate-config` on the settings file it
ships, then `tradestack check-deploy-config` (each symbol owned by exactly one shard, TLS endpoints on
443, StatefulSet replicas = shards, ports and files). Exit 1 on any problem.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tradestack.config import render_problems, validate_config_file
from tradestack.ops.config_check import CONFIG_MAP, SETTINGS_KEY, check_rendered, render_overlay

REPO = Path(__file__).resolve().parent.parent
OVERLAYS = REPO / "deploy" / "k8s" / "overlays"


def main(names: list[str]) -> int:
    overlays = [OVERLAYS / name for name in names] or sorted(p for p in OVERLAYS.iterdir() if p.is_dir())
    failures = 0
    for overlay in overlays:
        objects = render_overlay(overlay)
        config_map = next(
            o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith(CONFIG_MAP)
        )
        with tempfile.TemporaryDirectory() as scratch:
            settings = Path(scratch) / SETTINGS_KEY
            settings.write_text(config_map["data"][SETTINGS_KEY])
            problems = validate_config_file(settings)
        problems += check_rendered(objects)
        if problems:
            failures += 1
            print(render_problems(problems, str(overlay.relative_to(REPO))), file=sys.stderr)
        else:
            print(f"{overlay.relative_to(REPO)}: valid; config and manifests agree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
