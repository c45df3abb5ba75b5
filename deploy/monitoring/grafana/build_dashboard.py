"""Build the tradestack Grafana dashboard with the typed builder (PyPI grafana-foundation-sdk).

    python deploy/monitoring/grafana/build_dashboard.py            # writes dashboards/tradestack.json
    python deploy/monitoring/grafana/build_dashboard.py --check    # exit 1 if the committed JSON is stale

The JSON is provisionable as is (provisioning/dashboards.yml points Grafana at dashboards/). It is checked
by tests/monitoring/test_dashboard.py: against Grafana's own TypeScript types (`satisfies Dashboard`,
`tsc --noEmit`), every panel query with promtool, and every metric it names against our registry.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import heatmap, prometheus, stat, statetimeline, timeseries
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DatasourceVariable,
    Row,
    ThresholdsConfig,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import BigValueColorMode, BigValueGraphMode
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
)

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "dashboards" / "tradestack.json"
UID = "tradestack-overview"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")


def query(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE)


def thresholds(*steps: tuple[float | None, str]) -> ThresholdsConfig:
    return (
        ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=v, color=c) for v, c in steps])
    )


def series(title: str, unit: str, description: str, *targets: prometheus.Dataquery) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).description(description).datasource(DATASOURCE)
    for index, target in enumerate(targets):
        panel = panel.with_target(target.ref_id(chr(ord("A") + index)))
    return panel.height(8).span(12)


def build() -> dict[str, Any]:
    latency = [
        query(f"exchange:trading_fill_latency_seconds:{p}_5m", f"{{{{exchange}}}} {p}")
        for p in ("p50", "p95", "p99")
    ]
    dashboard = (
        Dashboard("tradestack")
        .uid(UID)
        .description("Trading process health: execution, positions, market data, connections, risk.")
        .tags(["tradestack", "trading"])
        .refresh("10s")
        .time("now-1h", "now")
        .timezone("browser")
        .with_variable(DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .with_row(Row("Risk and connections"))
        .with_panel(
            stat.Panel()
            .title("Kill switch")
            .description("1 while the kill switch is engaged (trading stopped, orders cancelled).")
            .datasource(DATASOURCE)
            .with_target(query("max(trading_kill_switch_engaged)", "kill switch"))
            .mappings(
                [
                    ValueMap(
                        options={
                            "0": ValueMappingResult(text="off", color="green"),
                            "1": ValueMappingResult(text="ENGAGED", color="red"),
                        }
                    )
                ]
            )
            .thresholds(thresholds((None, "green"), (1, "red")))
            .color_mode(BigValueColorMode.BACKGROUND)
            .graph_mode(BigValueGraphMode.NONE)
            .height(6)
            .span(4)
        )
        .with_panel(
            statetimeline.Panel()
            .title("WebSocket connection state")
            .description("1 connected, 0 down, per venue and stream (market, user).")
            .datasource(DATASOURCE)
            .with_target(query("trading_websocket_up", "{{exchange}} {{stream}}"))
            .mappings(
                [
                    ValueMap(
                        options={
                            "0": ValueMappingResult(text="down", color="red"),
                            "1": ValueMappingResult(text="up", color="green"),
                        }
                    )
                ]
            )
            .height(6)
            .span(10)
        )
        .with_panel(
            statetimeline.Panel()
            .title("Book integrity")
            .description("1 while the book is in sync; 0 while it resyncs (the symbol does not trade).")
            .datasource(DATASOURCE)
            .with_target(query("trading_book_synced", "{{exchange}} {{symbol}}"))
            .mappings(
                [
                    ValueMap(
                        options={
                            "0": ValueMappingResult(text="resyncing", color="orange"),
                            "1": ValueMappingResult(text="synced", color="green"),
                        }
                    )
                ]
            )
            .height(6)
            .span(10)
        )
        .with_row(Row("Execution"))
        .with_panel(
            series(
                "Fill latency percentiles per venue",
                "s",
                "Order submission to fill confirmation, P50/P95/P99 over 5 minutes (recording rules).",
                *latency,
            )
        )
        .with_panel(
            series(
                "Rejections",
                "ops",
                "Orders refused by a risk rule or by the venue, per reason; the ratio alerts above 3%.",
                query(
                    "sum by (exchange, reason) (rate(trading_orders_rejected_total[5m]))",
                    "{{exchange}} {{reason}}",
                ),
            )
        )
        .with_panel(
            series(
                "Rejection ratio",
                "percentunit",
                "Rejected over attempted orders, 5 minutes (TradingRejectionRateHigh at 3%).",
                query("exchange:trading_order_rejection_ratio:rate5m", "{{exchange}}"),
            )
        )
        .with_panel(
            series(
                "Rate-limit usage",
                "percentunit",
                "Used fraction of the venue's request weight (TradingRateLimitHigh at 70%).",
                query("trading_rate_limit_usage_ratio", "{{exchange}}"),
            )
        )
        .with_panel(
            series(
                "Orders and fills",
                "ops",
                "Orders sent and fills received per second; quoting (1) is when fills are expected.",
                query(
                    "sum by (exchange, symbol) (rate(trading_orders_sent_total[5m]))",
                    "sent {{exchange}} {{symbol}}",
                ),
                query(
                    "sum by (exchange, symbol) (rate(trading_fills_total[5m]))",
                    "fills {{exchange}} {{symbol}}",
                ),
                query("trading_quoting", "quoting {{exchange}} {{symbol}}"),
            )
        )
        .with_panel(
            series(
                "Tick to order",
                "s",
                "Market data receipt to order handed to the gateway, P50/P99 over 5 minutes.",
                query(
                    "histogram_quantile(0.5, sum by (le) (rate(trading_tick_to_order_seconds_bucket[5m])))",
                    "p50",
                ),
                query(
                    "histogram_quantile(0.99, sum by (le) (rate(trading_tick_to_order_seconds_bucket[5m])))",
                    "p99",
                ),
            )
        )
        .with_row(Row("Positions and PnL"))
        .with_panel(
            series(
                "Position drift",
                "percent",
                "Our position minus the venue's, in percent of the venue's (TradingPositionDrift at 1%).",
                query("trading_position_drift_percent", "{{exchange}} {{symbol}}"),
            )
        )
        .with_panel(
            series(
                "PnL",
                "none",
                "Realized and unrealized PnL in quote units, per venue.",
                query("trading_pnl_realized", "realized {{exchange}}"),
                query("trading_pnl_unrealized", "unrealized {{exchange}}"),
                query("trading_pnl_realized + trading_pnl_unrealized", "total {{exchange}}"),
            )
        )
        .with_panel(
            series(
                "Positions",
                "none",
                "Position in base units per symbol.",
                query("trading_position", "{{exchange}} {{symbol}}"),
            )
        )
        .with_row(Row("Firm risk"))
        .with_panel(
            series(
                "Firm limit usage",
                "percentunit",
                "Used fraction of each firm limit over all shards (FirmRiskLimitNear above 80%; "
                "the firm kill switch latches beyond 100%).",
                query("firm_risk_limit_usage_ratio", "{{limit}} {{asset}}"),
            )
        )
        .with_panel(
            series(
                "Firm risk link and report age",
                "s",
                "Seconds since each shard last reported to the firm risk service, and each shard's link "
                "(0: no verdict, the shard stopped trading; TradingRiskServiceUnreachable after 30 s).",
                query("firm_risk_shard_report_age_seconds", "age {{shard}}"),
                query("trading_risk_link_up", "link up {{instance}}"),
            )
        )
        .with_row(Row("Market data"))
        .with_panel(
            heatmap.Panel()
            .title("Market data age")
            .description(
                "Distribution of book data ages across symbols; the bound is feed.staleness_seconds."
            )
            .datasource(DATASOURCE)
            .with_target(query("trading_market_data_age_seconds", "{{exchange}} {{symbol}}"))
            .calculate(True)
            .unit("s")
            .height(8)
            .span(12)
        )
        .with_panel(
            series(
                "Reconnects",
                "short",
                "WebSocket reconnects per 5 minutes, by reason (TradingReconnectStorm: more than 5 in 10m).",
                query(
                    "sum by (exchange, reason) (increase(trading_websocket_reconnects_total[5m]))",
                    "{{exchange}} {{reason}}",
                ),
            )
        )
        .with_panel(
            series(
                "Book gaps and resyncs",
                "short",
                "Sequence gaps and snapshot resyncs per 15 minutes (TradingBookResyncsHigh above 3).",
                query(
                    "sum by (exchange, symbol) (increase(trading_book_gaps_total[15m]))",
                    "gaps {{exchange}} {{symbol}}",
                ),
                query(
                    "sum by (exchange, symbol) (increase(trading_book_resyncs_total[15m]))",
                    "resyncs {{exchange}} {{symbol}}",
                ),
            )
        )
        .with_panel(
            series(
                "Messages",
                "ops",
                "Venue messages received and malformed messages dropped, per second.",
                query(
                    "sum by (exchange) (rate(trading_messages_received_total[1m]))", "received {{exchange}}"
                ),
                query(
                    "sum by (exchange, reason) (rate(trading_messages_malformed_total[5m]))",
                    "malformed {{exchange}} {{reason}}",
                ),
            )
        )
    )
    encoded: dict[str, Any] = strip_rejected_fields(
        json.loads(json.dumps(dashboard.build(), cls=JSONEncoder))
    )
    for variable in encoded["templating"]["list"]:
        variable.pop("id", None)  # a zero UUID; not part of Grafana's variable model
        if variable["type"] != "interval":  # the builder gives every variable an interval's auto fields
            for key in ("auto", "auto_count", "auto_min"):
                variable.pop(key, None)
    for number, panel in enumerate(encoded["panels"], start=1):
        panel["id"] = number  # the builder leaves every id at 0; Grafana wants them unique
    return encoded


def strip_rejected_fields(value: Any) -> Any:
    """foundation-sdk emits `"options": null` and a dashboard `"style"`, which Grafana's types reject
    (as they do the interval fields it gives a datasource variable, removed in `build`)."""
    if isinstance(value, dict):
        return {
            key: strip_rejected_fields(item)
            for key, item in value.items()
            if not (key == "options" and item is None) and key != "style"
        }
    if isinstance(value, list):
        return [strip_rejected_fields(item) for item in value]
    return value


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed JSON differs")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
