"""`tradestack paper | replay | validate-config | kill-switch | sim`: the command line, thin over app/."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="tradestack: crypto trading infrastructure"
)
kill_switch_app = typer.Typer(no_args_is_help=True, help="Inspect or reset the latched kill switch.")
app.add_typer(kill_switch_app, name="kill-switch")


def _register_subcommands() -> None:
    from tradestack.ops.cli import ops_app
    from tradestack.security.cli import security_app

    app.add_typer(security_app, name="audit")
    app.add_typer(ops_app)  # latency-audit, check-exchanges, check-deploy-config, rollout


_register_subcommands()

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML settings; embedded defaults if omitted")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="state directory (default ./tradestack-data)")
]


@app.command()
def paper(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    duration: Annotated[float | None, typer.Option(help="stop after N seconds")] = None,
    venue_rest: Annotated[
        str | None, typer.Option(help="trade an external simulated venue at this REST URL")
    ] = None,
    venue_ws: Annotated[str | None, typer.Option(help="... and this WebSocket base URL")] = None,
    view: Annotated[bool, typer.Option(help="live terminal view (off when not a terminal)")] = True,
    venue: Annotated[
        str | None,
        typer.Option(
            help="binance, binance-futures, binance-coinm, okx, coinbase, bybit or kraken "
            "(default: the config's); "
            "the simulator speaks its dialect"
        ),
    ] = None,
) -> None:
    """Paper trading: the real connector and engine against the built-in simulated exchange."""
    from tradestack.app.paper import run_paper_command

    raise typer.Exit(
        run_paper_command(
            config, data_dir, duration, venue_rest, venue_ws, view and sys.stdout.isatty(), venue=venue
        )
    )


@app.command()
def engine(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    shards: Annotated[Path, typer.Option(help="shards.yaml: which symbols each shard owns")] = Path(
        "shards.yaml"
    ),
    exchanges: Annotated[Path, typer.Option(help="exchanges.yaml: each venue's REST and stream URLs")] = Path(
        "exchanges.yaml"
    ),
    shard: Annotated[
        int | None, typer.Option(help="shard index (default: from POD_NAME's -N suffix)")
    ] = None,
) -> None:
    """One trading shard (a StatefulSet pod): trades the symbols its shard owns at the configured venue."""
    import os
    import re

    from tradestack.app.paper import run_engine_command
    from tradestack.ops.config_check import parse_exchanges, parse_shards

    if shard is None:
        match = re.search(r"-(\d+)$", os.environ.get("POD_NAME", ""))
        if match is None:
            typer.echo("no --shard and no POD_NAME ending in -N: which shard is this?", err=True)
            raise typer.Exit(2)
        shard = int(match.group(1))
    plan, problems = parse_shards(shards.read_text(), str(shards))
    venues, venue_problems = parse_exchanges(exchanges.read_text(), str(exchanges))
    owned = [entry for entry in plan if entry.index == shard]
    if problems or venue_problems or not owned:
        for problem in [*problems, *venue_problems]:
            typer.echo(f"{problem.path}: {problem.message} ({problem.hint})", err=True)
        if not owned:
            typer.echo(f"{shards}: no shard {shard}", err=True)
        raise typer.Exit(2)
    urls = {name: (endpoints.rest, endpoints.stream) for name, endpoints in venues.items()}
    raise typer.Exit(run_engine_command(config, data_dir, owned[0].symbols, urls, shard=shard))


@app.command()
def risk(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    shards: Annotated[
        Path | None, typer.Option(help="shards.yaml: accept reports from its shards only (shard-N)")
    ] = None,
) -> None:
    """The firm-wide risk service: every shard reports to it; a breach of a firm limit kills them all."""
    from tradestack.app.paper import run_risk_command
    from tradestack.ops.config_check import parse_shards

    names: frozenset[str] | None = None
    if shards is not None:
        plan, problems = parse_shards(shards.read_text(), str(shards))
        if problems or not plan:
            for problem in problems:
                typer.echo(f"{problem.path}: {problem.message} ({problem.hint})", err=True)
            typer.echo(f"{shards}: no shards", err=True)
            raise typer.Exit(2)
        names = frozenset(f"shard-{entry.index}" for entry in plan)
    raise typer.Exit(run_risk_command(config, data_dir, names))


@app.command()
def connector(
    venue: Annotated[
        str,
        typer.Option(
            "--venue",
            "--exchange",
            help="binance, binance-futures, binance-coinm, okx, coinbase, bybit or kraken",
        ),
    ] = "binance",
    config: ConfigOption = None,
    exchanges: Annotated[Path, typer.Option(help="exchanges.yaml: each venue's REST and stream URLs")] = Path(
        "exchanges.yaml"
    ),
    duration: Annotated[float | None, typer.Option(help="stop after N seconds")] = None,
) -> None:
    """One venue's market data as its own process: books in sync, /metrics, /readyz. No keys, no orders."""
    from pydantic import ValidationError

    from tradestack.app.connector import run_connector
    from tradestack.app.venue_registry import for_venue
    from tradestack.config import ConfigError, load_settings, render_problems
    from tradestack.ops.config_check import parse_exchanges

    try:
        settings = for_venue(load_settings(config), venue)
    except ConfigError as error:
        typer.echo(render_problems(error.problems, source=str(config) if config else None), err=True)
        raise typer.Exit(2) from None
    except ValidationError as error:
        typer.echo(f"--venue {venue}: {error.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from None
    venues, problems = parse_exchanges(exchanges.read_text(), str(exchanges))
    if problems or venue not in venues:
        for problem in problems:
            typer.echo(f"{problem.path}: {problem.message} ({problem.hint})", err=True)
        typer.echo(f"{exchanges}: no {venue} venue", err=True)
        raise typer.Exit(2)
    raise typer.Exit(run_connector(settings, venues[venue].rest, venues[venue].stream, duration))


@app.command()
def sim(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    port: Annotated[int, typer.Option(help="REST and WebSocket port on 127.0.0.1 (0: any free port)")] = 0,
) -> None:
    """Run the simulated exchange alone; its API key is written to the data dir's secret store."""
    from tradestack.app.paper import run_sim_command

    raise typer.Exit(run_sim_command(config, data_dir, port))


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="hftbacktest .gz/.txt or cryptofeed sample_data file")],
    venue: Annotated[
        str, typer.Option(help="binance, binance-futures (USD-M), okx, kraken, bybit or coinbase")
    ] = "binance",
    as_json: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
) -> None:
    """Rebuild books from a recording and print the book-integrity report."""
    from tradestack.app.replay import render_text, run_replay

    report = run_replay(venue, file)
    if as_json:
        typer.echo(json.dumps(report.to_json_dict()))
    else:
        typer.echo(render_text(report))
    raise typer.Exit(0 if report.ok else 1)


@app.command("validate-config")
def validate_config(file: Annotated[Path, typer.Argument(help="YAML settings file")]) -> None:
    """Name every bad field and how to fix it. Exit 0 when the file is valid."""
    from tradestack.config import render_problems, validate_config_file

    problems = validate_config_file(file)
    if problems:
        typer.echo(render_problems(problems), err=True)
        raise typer.Exit(1)
    typer.echo(f"{file}: valid")


FirmOption = Annotated[
    bool, typer.Option("--firm", help="the firm risk service's latch (its data dir), not a shard's")
]


@kill_switch_app.command("status")
def kill_switch_status(
    data_dir: DataDirOption = None, config: ConfigOption = None, firm: FirmOption = False
) -> None:
    from tradestack.app.paper import kill_switch_state

    engaged, reason = kill_switch_state(config, data_dir, firm)
    typer.echo(f"engaged: {reason}" if engaged else "not engaged")


@kill_switch_app.command("reset")
def kill_switch_reset(
    data_dir: DataDirOption = None, config: ConfigOption = None, firm: FirmOption = False
) -> None:
    """Release the latch after the cause is understood. Trading resumes on the next start."""
    from tradestack.app.paper import reset_kill_switch

    typer.echo(reset_kill_switch(config, data_dir, firm))


def main() -> None:
    import os

    from tradestack.store import crash_points

    crash_points.arm(os.environ.get(crash_points.ENV))  # the kill -9 battery only; unset: off
    app()


if __name__ == "__main__":
    main()
