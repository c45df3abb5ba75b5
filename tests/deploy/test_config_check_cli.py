"""`tradestack check-deploy-config` and scripts/validate_configs.py over the real overlays."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from deploy.deploy_tools import K8S, REPO, rendered_text, run, tool
from tradestack.ops.cli import ops_app


def test_the_command_accepts_every_overlay() -> None:
    for overlay in ("paper", "live"):
        rendered_text(overlay)  # skips (or fails under CI) without kubectl
        result = CliRunner().invoke(ops_app, ["check-deploy-config", str(K8S / "overlays" / overlay)])
        assert result.exit_code == 0, result.output
        assert "config and manifests agree" in result.output


def test_the_command_names_each_problem_in_a_rendered_file(tmp_path: Path) -> None:
    text = rendered_text("live").replace(
        "stream: wss://stream.binance.com:443", "stream: ws://stream.binance.com"
    )
    rendered = tmp_path / "live.yaml"
    rendered.write_text(text)
    result = CliRunner().invoke(ops_app, ["check-deploy-config", "live", "--rendered", str(rendered)])
    assert result.exit_code == 1
    assert "exchanges.yaml: venues.binance.stream" in result.output
    assert "does not use TLS" in result.output


def test_the_wrapper_script_checks_every_overlay() -> None:
    rendered_text("paper")
    result = run([tool("python"), str(REPO / "scripts" / "validate_configs.py")], timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("config and manifests agree") == 2
