"""Operations commands, registered into the main CLI: pre-deploy checks and the shard rollout.

tradestack latency-audit [--root /host] [--json] [--strict]
tradestack check-exchanges --exchanges exchanges.yaml [--config F] [--secrets F] [--ca-file F] [--json]
tradestack check-deploy-config deploy/k8s/overlays/live [--rendered FILE]
tradestack rollout --image IMAGE --namespace NS [--api URL] [--prometheus URL] ...
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
from pathlib import Path
from typing import Annotated

import typer

ops_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Pre-deploy checks and rollouts.")

JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON object instead of a table")]


@ops_app.command("latency-audit")
def latency_audit(
    root: Annotated[Path, typer.Option(help="the host's root (/host in a debug pod on a node)")] = Path("/"),
    as_json: JsonOption = False,
    strict: Annotated[bool, typer.Option(help="fail on warnings too, not only on critical misses")] = False,
) -> None:
    """Audit kernel and NIC tuning for low latency. Exit 1 on a critical miss (or any, with --strict)."""
    from tradestack.ops.latency_audit import Host, audit, failed

    findings = audit(Host(root))
    bad = failed(findings, strict)
    if as_json:
        typer.echo(json.dumps({"ok": not bad, "findings": [f.to_json_dict() for f in findings]}))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"latency audit of {root}")
        for column in ("check", "status", "severity", "expected", "found", "fix"):
            table.add_column(column, overflow="fold")
        for f in findings:
            style = {"ok": "green", "bad": "red", "unknown": "yellow"}[f.status.value]
            table.add_row(
                f.check,
                f"[{style}]{f.status}[/]",
                f.severity,
                f.expected,
                f.found,
                "" if f.status.value == "ok" else f.fix,
            )
        Console(width=200).print(table)
        for f in findings:
            if f.status.value == "bad":
                typer.echo(f"{f.check}: {f.why}")
    raise typer.Exit(1 if bad else 0)


@ops_app.command("check-exchanges")
def check_exchanges(
    exchanges: Annotated[Path, typer.Option(help="exchanges.yaml with each venue's rest and stream URL")],
    config: Annotated[Path | None, typer.Option(help="settings YAML (symbols; secrets path)")] = None,
    secrets: Annotated[
        Path | None, typer.Option(help="secret store file with <venue>/api_key and <venue>/api_secret")
    ] = None,
    ca_file: Annotated[Path | None, typer.Option(help="trust this CA instead of the system store")] = None,
    timeout: Annotated[float, typer.Option(help="seconds per step")] = 5.0,
    as_json: JsonOption = False,
) -> None:
    """DNS, TCP, TLS, WebSocket, REST and clock skew, API-key permissions, per venue. Exit 1 on a failure."""
    from tradestack.config import load_settings
    from tradestack.ops.config_check import parse_exchanges
    from tradestack.ops.exchange_check import VenueFinding, check_venue, failed
    from tradestack.security.secrets import FileSecretStore, SecretStoreError
    from tradestack.venues.binance.auth import HmacSigner

    venues, problems = parse_exchanges(exchanges.read_text(), str(exchanges))
    if problems:
        for problem in problems:
            typer.echo(f"{problem.path}: {problem.message} (fix: {problem.hint})", err=True)
        raise typer.Exit(2)
    settings = load_settings(config)
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    store_path = secrets or settings.secrets_path

    async def run_all() -> list[VenueFinding]:
        results: list[VenueFinding] = []
        for name, endpoints in venues.items():
            signer = None
            try:
                store = FileSecretStore(store_path)
                signer = HmacSigner(
                    store.get(f"{name}/api_key").reveal(), store.get(f"{name}/api_secret").reveal()
                )
            except (SecretStoreError, ValueError):
                signer = None
            findings = await check_venue(
                endpoints, settings.symbols[0], ssl_context=context, signer=signer, step_seconds=timeout
            )
            results.extend(findings)
        return results

    findings = asyncio.run(run_all())
    bad = failed(findings)
    if as_json:
        typer.echo(json.dumps({"ok": not bad, "findings": [f.to_json_dict() for f in findings]}))
    else:
        for f in findings:
            took = f" ({f.milliseconds} ms)" if f.milliseconds is not None else ""
            typer.echo(f"{f.venue:10} {f.step:20} {f.status:8} {f.found}{took}")
            if f.status.value != "ok" and f.fix:
                typer.echo(f"{'':40}fix: {f.fix}")
    raise typer.Exit(1 if bad else 0)


@ops_app.command("check-deploy-config")
def check_deploy_config(
    overlay: Annotated[Path, typer.Argument(help="a kustomize overlay, e.g. deploy/k8s/overlays/live")],
    rendered: Annotated[
        Path | None, typer.Option(help="check this rendered YAML instead of running kubectl kustomize")
    ] = None,
) -> None:
    """Config and manifests agree: shards own each symbol once, TLS endpoints, ports, files."""
    from tradestack.config import render_problems
    from tradestack.ops.config_check import check_rendered, parse_manifests, render_overlay

    try:
        objects = parse_manifests(rendered.read_text()) if rendered else render_overlay(overlay)
    except (RuntimeError, OSError) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    problems = check_rendered(objects)
    if problems:
        typer.echo(render_problems(problems, str(overlay)), err=True)
        raise typer.Exit(1)
    typer.echo(f"{overlay}: config and manifests agree ({len(objects)} objects)")


@ops_app.command("rollout")
def rollout_command(
    namespace: Annotated[str, typer.Option(help="namespace of the trading StatefulSet")],
    image: Annotated[str, typer.Option(help="the new image, by digest (repo@sha256:...)")],
    exchange: Annotated[str, typer.Option(help="the analysis template's `exchange` argument")] = "binance",
    api: Annotated[
        str, typer.Option(help="Kubernetes API server, or `kubectl proxy`")
    ] = "http://127.0.0.1:8001",
    token_file: Annotated[Path | None, typer.Option(help="bearer token (in a pod: the SA token)")] = None,
    prometheus: Annotated[str, typer.Option(help="Prometheus base URL")] = "http://127.0.0.1:9090",
    template: Annotated[Path, typer.Option(help="the AnalysisTemplate")] = Path(
        "deploy/rollouts/analysis-template.yaml"
    ),
    statefulset: Annotated[str, typer.Option(help="the StatefulSet")] = "trading-engine",
    rounds: Annotated[int, typer.Option(help="analysis rounds per shard")] = 5,
    interval: Annotated[float, typer.Option(help="seconds between analysis rounds")] = 60.0,
    ready_timeout: Annotated[float, typer.Option(help="seconds for a shard to become ready")] = 600.0,
    poll_interval: Annotated[float, typer.Option(help="seconds between readiness polls")] = 2.0,
    as_json: JsonOption = False,
) -> None:
    """Canary the trading shards one at a time (StatefulSet partition); roll back on a failed analysis."""
    import aiohttp

    from tradestack.ops.rollout import (
        KubernetesApi,
        Prometheus,
        RolloutError,
        RolloutReport,
        RolloutSettings,
        load_health_metrics,
        rollout,
    )

    metrics = load_health_metrics(template, {"exchange": exchange, "prometheus-address": prometheus})
    settings = RolloutSettings(
        namespace=namespace,
        image=image,
        metrics=metrics,
        statefulset=statefulset,
        analysis_rounds=rounds,
        analysis_interval=interval,
        ready_timeout=ready_timeout,
        poll_interval=poll_interval,
    )
    token = token_file.read_text().strip() if token_file else None

    async def run() -> RolloutReport:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            return await rollout(
                KubernetesApi(session, api, token), Prometheus(session, prometheus), settings
            )

    try:
        report = asyncio.run(run())
    except (RolloutError, aiohttp.ClientError, OSError) as error:
        typer.echo(f"rollout stopped: {error}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(report)))
    else:
        for line in report.log:
            typer.echo(line)
    raise typer.Exit(0 if report.ok else 1)
