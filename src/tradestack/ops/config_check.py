"""Deployment cross-checks: the config files and the rendered Kubernetes manifests agree.

`tradestack validate-config` checks one settings file on its own. Here the unit is a rendered
overlay (`kubectl kustomize deploy/k8s/overlays/live`): its ConfigMap carries the settings
(`tradestack.yaml`), the shard plan (`shards.yaml`) and the venue endpoints (`exchanges.yaml`), and
the objects around it must agree with them:

* every symbol is owned by exactly one shard, shards are numbered 0..N-1, and the trading
  StatefulSet runs exactly N pods (pod trading-engine-N is shard N);
* every endpoint uses TLS (https, wss) on a port its venue's connector may reach (`EGRESS_PORTS`:
  443 for every venue; OKX's stream also 8443), each connector's NetworkPolicy opens no other, and
  the engines' NetworkPolicy lets them out on every port of the venue they trade;
* each venue has its connector, each process's http port is the one the settings serve on, and the
  settings do not bind it to loopback (probes and scrapes come from outside the pod);
* every file a container is told to read under the config mount is in the ConfigMap;
* Rollouts point at workloads and analysis templates that exist.

Each finding is a `ConfigProblem`: which object or field, what is wrong, how to fix it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tradestack.config import ConfigProblem, Settings, check_yaml

CONFIG_MAP = "tradestack-config"
CONFIG_MOUNT = "/etc/tradestack"
SETTINGS_KEY = "tradestack.yaml"
SHARDS_KEY = "shards.yaml"
EXCHANGES_KEY = "exchanges.yaml"
RISK_SERVICE = "risk-engine"
TRADING_STATEFULSET = "trading-engine"
CONNECTOR_PREFIX = "connector-"
TLS_SCHEMES = {"rest": "https", "stream": "wss"}
EXCHANGE_LABEL = "tradestack.io/exchange"
# The ports each venue's endpoints may use, by kind: 443 for every venue, REST and stream alike. OKX
# serves its public WebSocket on 8443 (wss://ws.okx.com:8443/ws/v5/public), so its stream, and only
# its stream, may use 8443 too. A port added here must also be open in that venue's NetworkPolicy
# (connector-<venue>-egress) and in the trading nodes' security group (deploy/terraform/modules/eks,
# node_egress).
HTTPS_PORT = 443
DEFAULT_EGRESS_PORTS: Mapping[str, frozenset[int]] = {
    "rest": frozenset({HTTPS_PORT}),
    "stream": frozenset({HTTPS_PORT}),
}
EGRESS_PORTS: Mapping[str, Mapping[str, frozenset[int]]] = {
    "okx": {"rest": frozenset({HTTPS_PORT}), "stream": frozenset({HTTPS_PORT, 8443})},
}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

Manifest = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Shard:
    index: int
    symbols: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VenueEndpoints:
    venue: str
    rest: str
    stream: str


# ---- parsing the deployment config files --------------------------------------------------------------


def parse_shards(text: str, source: str = SHARDS_KEY) -> tuple[list[Shard], list[ConfigProblem]]:
    """`shards: [{index: 0, symbols: [BTCUSDT]}, ...]`."""
    data = _yaml(text)
    problems: list[ConfigProblem] = []
    entries = data.get("shards") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        return [], [
            ConfigProblem(
                f"{source}: shards", "no shard list", "write `shards:` with `- {index: 0, symbols: [..]}`"
            )
        ]
    shards: list[Shard] = []
    for position, entry in enumerate(entries):
        where = f"{source}: shards[{position}]"
        if not isinstance(entry, dict):
            problems.append(ConfigProblem(where, "not a mapping", "write `{index: N, symbols: [..]}`"))
            continue
        index, symbols = entry.get("index"), entry.get("symbols")
        if not isinstance(index, int) or isinstance(index, bool):
            problems.append(ConfigProblem(f"{where}.index", "missing or not an integer", "set index: N"))
            continue
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            problems.append(ConfigProblem(f"{where}.symbols", "not a list of symbols", "list symbols"))
            continue
        shards.append(Shard(index, tuple(symbols)))
    return shards, problems


def parse_exchanges(
    text: str, source: str = EXCHANGES_KEY
) -> tuple[dict[str, VenueEndpoints], list[ConfigProblem]]:
    """`venues: {binance: {rest: https://..., stream: wss://...}}`."""
    data = _yaml(text)
    venues = data.get("venues") if isinstance(data, dict) else None
    if not isinstance(venues, dict) or not venues:
        return {}, [ConfigProblem(f"{source}: venues", "no venues", "list each venue's rest and stream URL")]
    found: dict[str, VenueEndpoints] = {}
    problems: list[ConfigProblem] = []
    for venue, urls in venues.items():
        where = f"{source}: venues.{venue}"
        if not isinstance(urls, dict) or not all(isinstance(urls.get(key), str) for key in TLS_SCHEMES):
            problems.append(ConfigProblem(where, "needs `rest` and `stream` URLs", "add both URLs"))
            continue
        found[str(venue)] = VenueEndpoints(str(venue), urls["rest"], urls["stream"])
    return found, problems


# ---- pure checks ---------------------------------------------------------------------------------------


def check_shards(symbols: Sequence[str], shards: Sequence[Shard]) -> list[ConfigProblem]:
    """Every configured symbol owned by exactly one shard; shards numbered 0..N-1."""
    problems: list[ConfigProblem] = []
    indexes = sorted(shard.index for shard in shards)
    if indexes != list(range(len(shards))):
        problems.append(
            ConfigProblem(
                "shards.yaml: shards",
                f"shard indexes are {indexes}, not 0..{len(shards) - 1}",
                "number the shards 0, 1, ... without gaps or repeats: pod trading-engine-N is shard N",
            )
        )
    owners: dict[str, list[int]] = {}
    for shard in shards:
        if not shard.symbols:
            problems.append(
                ConfigProblem(f"shards.yaml: shards[{shard.index}]", "owns no symbol", "give it a symbol")
            )
        for symbol in shard.symbols:
            owners.setdefault(symbol, []).append(shard.index)
    for symbol in symbols:
        owned_by = owners.get(symbol, [])
        if not owned_by:
            problems.append(
                ConfigProblem(
                    f"shards.yaml: {symbol}",
                    f"{symbol} is traded (tradestack.yaml symbols) but no shard owns it",
                    f"add {symbol} to exactly one shard's symbols",
                )
            )
        elif len(owned_by) > 1:
            problems.append(
                ConfigProblem(
                    f"shards.yaml: {symbol}",
                    f"{symbol} is owned by shards {owned_by}: two engines would trade it",
                    f"keep {symbol} in one shard only",
                )
            )
    for symbol, owned_by in owners.items():
        if symbol not in symbols:
            problems.append(
                ConfigProblem(
                    f"shards.yaml: {symbol}",
                    f"shard {owned_by[0]} owns {symbol}, which tradestack.yaml does not trade",
                    f"add {symbol} to symbols in tradestack.yaml, or remove it from the shard",
                )
            )
    return problems


def egress_ports(venue: str | None, kind: str | None = None) -> frozenset[int]:
    """The ports a venue's connector may reach: for one kind of endpoint (rest, stream), or for any
    (None). Without a venue (a policy over every connector), the ports every venue may use: 443."""
    if venue is None:
        common = frozenset(DEFAULT_EGRESS_PORTS[kind] if kind else _union(DEFAULT_EGRESS_PORTS))
        for table in EGRESS_PORTS.values():
            common &= table[kind] if kind else _union(table)
        return common
    table = EGRESS_PORTS.get(venue, DEFAULT_EGRESS_PORTS)
    return table[kind] if kind else _union(table)


def _union(table: Mapping[str, frozenset[int]]) -> frozenset[int]:
    return frozenset().union(*table.values())


def _ports_text(ports: Iterable[int]) -> str:
    return " or ".join(str(port) for port in sorted(ports))


def check_endpoints(venues: Mapping[str, VenueEndpoints]) -> list[ConfigProblem]:
    """TLS only (https for REST, wss for streams), and on a port the venue's egress allows
    (`EGRESS_PORTS`: 443, and 8443 for OKX's stream)."""
    problems: list[ConfigProblem] = []
    for venue in venues.values():
        for kind, scheme in TLS_SCHEMES.items():
            url = getattr(venue, kind)
            where = f"exchanges.yaml: venues.{venue.venue}.{kind}"
            try:
                parts = urlsplit(url)
                port = parts.port
            except ValueError as error:
                problems.append(ConfigProblem(where, f"{url!r} is not a URL: {error}", "fix the URL"))
                continue
            if parts.scheme != scheme:
                problems.append(
                    ConfigProblem(
                        where,
                        f"{url} does not use TLS ({parts.scheme or 'no scheme'}, expected {scheme})",
                        f"use the venue's {scheme}:// endpoint",
                    )
                )
            elif (port or HTTPS_PORT) not in (allowed := egress_ports(venue.venue, kind)):
                problems.append(
                    ConfigProblem(
                        where,
                        f"{url} uses port {port}, but the {venue.venue} connector's {kind} may only "
                        f"reach port {_ports_text(allowed)}",
                        f"use the venue's endpoint on port {_ports_text(allowed)} (Binance: "
                        "wss://stream.binance.com:443); a venue served on no allowed port needs the "
                        "port in EGRESS_PORTS (ops/config_check.py), its NetworkPolicy and node_egress",
                    )
                )
            if not parts.hostname:
                problems.append(ConfigProblem(where, f"{url} has no host", "write the full URL"))
    return problems


def check_manifests(
    settings: Settings,
    shards: Sequence[Shard],
    venues: Mapping[str, VenueEndpoints],
    objects: Sequence[Manifest],
    config_keys: Iterable[str],
) -> list[ConfigProblem]:
    """The rendered objects against the config they carry."""
    problems: list[ConfigProblem] = []
    keys = set(config_keys)
    by_kind: dict[tuple[str, str], Manifest] = {}
    for obj in objects:
        by_kind[(str(obj.get("kind")), str(_get(obj, "metadata", "name")))] = obj

    statefulset = by_kind.get(("StatefulSet", TRADING_STATEFULSET))
    if statefulset is None:
        problems.append(
            ConfigProblem(f"StatefulSet/{TRADING_STATEFULSET}", "missing", "render the base manifests")
        )
    else:
        replicas = _get(statefulset, "spec", "replicas")
        if replicas != len(shards):
            problems.append(
                ConfigProblem(
                    f"StatefulSet/{TRADING_STATEFULSET}: spec.replicas",
                    f"{replicas} pods but shards.yaml has {len(shards)} shards",
                    f"set replicas to {len(shards)} (one pod per shard)",
                )
            )
        partition = _get(statefulset, "spec", "updateStrategy", "rollingUpdate", "partition")
        if isinstance(partition, int) and isinstance(replicas, int) and partition > replicas:
            problems.append(
                ConfigProblem(
                    f"StatefulSet/{TRADING_STATEFULSET}: partition",
                    f"partition {partition} is above replicas {replicas}",
                    f"set the partition to {replicas} (no shard updated) or lower",
                )
            )

    deployments = {name for kind, name in by_kind if kind in ("Deployment", "Rollout")}
    for venue in [settings.venue, *venues]:
        if venue not in venues:
            problems.append(
                ConfigProblem(
                    f"exchanges.yaml: venues.{venue}",
                    f"the settings trade on {venue} but it has no endpoints",
                    f"add venues.{venue}.rest and .stream",
                )
            )
        if CONNECTOR_PREFIX + venue not in deployments:
            problems.append(
                ConfigProblem(
                    f"Deployment/{CONNECTOR_PREFIX}{venue}",
                    f"no connector for {venue}",
                    f"add a {CONNECTOR_PREFIX}{venue} Deployment (deploy/k8s/base)",
                )
            )

    if settings.http.host in LOOPBACK_HOSTS:
        problems.append(
            ConfigProblem(
                "tradestack.yaml: http.host",
                f"{settings.http.host} is unreachable from the kubelet's probes and from Prometheus",
                "set http.host: 0.0.0.0 in the cluster's config",
            )
        )
    for (kind, name), obj in sorted(by_kind.items()):
        for container in _containers(obj):
            where = f"{kind}/{name}: container {container.get('name')}"
            for port in container.get("ports") or []:
                if port.get("name") == "http" and port.get("containerPort") != settings.http.port:
                    problems.append(
                        ConfigProblem(
                            where,
                            f"http port {port.get('containerPort')} but the settings serve on "
                            f"{settings.http.port}",
                            f"make containerPort {settings.http.port} or change http.port",
                        )
                    )
            for arg in [*(container.get("args") or []), *(container.get("command") or [])]:
                if isinstance(arg, str) and arg.startswith(CONFIG_MOUNT + "/"):
                    key = arg.removeprefix(CONFIG_MOUNT + "/")
                    if key not in keys:
                        problems.append(
                            ConfigProblem(
                                where,
                                f"reads {arg}, which the {CONFIG_MAP} ConfigMap does not hold",
                                f"add {key} to the configMapGenerator, or fix the path",
                            )
                        )

    problems.extend(_check_connector_egress(objects))
    problems.extend(_check_engine_egress(settings.venue, objects))
    problems.extend(_check_rollouts(by_kind))
    problems.extend(_check_risk_service(settings, by_kind))
    return problems


def _check_risk_service(
    settings: Settings, by_kind: Mapping[tuple[str, str], Manifest]
) -> list[ConfigProblem]:
    """Shards must reach the firm risk service at a Service that exists, on the port it serves."""
    url = settings.risk_service.url
    if url is None:
        return [
            ConfigProblem(
                "tradestack.yaml: risk_service.url",
                "not set: the shards would trade without the firm-wide limits",
                f"set risk_service.url: http://{RISK_SERVICE}:{settings.firm_risk.port}",
            )
        ]
    problems: list[ConfigProblem] = []
    parsed = urlsplit(url)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    service = by_kind.get(("Service", host.split(".")[0]))
    if service is None:
        problems.append(
            ConfigProblem(
                "tradestack.yaml: risk_service.url",
                f"{url}: no Service {host} in the manifests",
                f"point it at the {RISK_SERVICE} Service, e.g. http://{RISK_SERVICE}:{settings.firm_risk.port}",
            )
        )
    else:
        ports = {p.get("port"): p.get("targetPort") for p in _get(service, "spec", "ports") or []}
        if port not in ports:
            problems.append(
                ConfigProblem(
                    "tradestack.yaml: risk_service.url",
                    f"{url}: Service {host} has no port {port} (it has {sorted(map(str, ports))})",
                    "use the Service's risk port",
                )
            )
    if settings.firm_risk.host in LOOPBACK_HOSTS:
        problems.append(
            ConfigProblem(
                "tradestack.yaml: firm_risk.host",
                f"{settings.firm_risk.host} is unreachable from the shards",
                "set firm_risk.host: 0.0.0.0 in the cluster's config",
            )
        )
    deployment = by_kind.get(("Deployment", RISK_SERVICE))
    for container in _containers(deployment) if deployment is not None else []:
        for declared in container.get("ports") or []:
            if declared.get("name") == "risk" and declared.get("containerPort") != settings.firm_risk.port:
                problems.append(
                    ConfigProblem(
                        f"Deployment/{RISK_SERVICE}: container {container.get('name')}",
                        f"risk port {declared.get('containerPort')} but the settings serve on "
                        f"{settings.firm_risk.port}",
                        f"make containerPort {settings.firm_risk.port} or change firm_risk.port",
                    )
                )
    return problems


def _check_connector_egress(objects: Sequence[Manifest]) -> list[ConfigProblem]:
    """Connector policies open only their venue's ports (`egress_ports`), each port on its own (no
    `endPort` range) and never every port (a rule without ports). A policy that selects connectors
    without naming a venue (`tradestack.io/exchange`) applies to all of them: 443 only."""
    problems: list[ConfigProblem] = []
    for obj in objects:
        if obj.get("kind") != "NetworkPolicy":
            continue
        labels = _get(obj, "spec", "podSelector", "matchLabels") or {}
        if labels.get("app.kubernetes.io/component") != "connector":
            continue
        venue = labels.get(EXCHANGE_LABEL)
        allowed = egress_ports(str(venue) if venue is not None else None)
        who = f"the {venue} connector" if venue is not None else "every connector"
        for index, rule in enumerate(_get(obj, "spec", "egress") or []):
            entries = rule.get("ports") or []
            ports = {entry.get("port") for entry in entries}
            ranges = [entry for entry in entries if entry.get("endPort") is not None]
            if entries and not ranges and ports <= allowed:
                continue
            if not entries:
                reached = "every port"
            elif ranges:
                reached = "port ranges " + ", ".join(f"{r.get('port')}-{r.get('endPort')}" for r in ranges)
            else:
                reached = f"ports {sorted(map(str, ports))}"
            problems.append(
                ConfigProblem(
                    f"NetworkPolicy/{_get(obj, 'metadata', 'name')}: egress[{index}].ports",
                    f"{who} may reach {reached}, not only {_ports_text(allowed)}",
                    f"allow egress on TCP {_ports_text(allowed)} only, each port listed (DNS comes "
                    "from the allow-dns policy)",
                )
            )
    return problems


def _check_engine_egress(venue: str, objects: Sequence[Manifest]) -> list[ConfigProblem]:
    """The engines place orders and read their private stream at the venue they trade: their
    NetworkPolicy must reach beyond the cluster on every port of that venue (an engine trading OKX
    needs 8443 for its private WebSocket). Rules towards pods only do not count."""
    problems: list[ConfigProblem] = []
    needed = egress_ports(venue)
    for obj in objects:
        if obj.get("kind") != "NetworkPolicy":
            continue
        labels = _get(obj, "spec", "podSelector", "matchLabels") or {}
        if labels.get("app.kubernetes.io/name") != TRADING_STATEFULSET:
            continue
        outward: set[object] = set()
        for rule in _get(obj, "spec", "egress") or []:
            peers = rule.get("to") or []
            if peers and not any("ipBlock" in peer for peer in peers):
                continue  # towards pods (connectors, the risk engine), not the venue
            outward |= {entry.get("port") for entry in rule.get("ports") or []}
        missing = needed - outward
        if missing:
            problems.append(
                ConfigProblem(
                    f"NetworkPolicy/{_get(obj, 'metadata', 'name')}: egress",
                    f"the engines trade {venue}, whose endpoints use TCP {_ports_text(needed)}, "
                    f"but may not go out on {_ports_text(missing)}",
                    f"add TCP {_ports_text(missing)} to the rule that lets the engines out (beside 443)",
                )
            )
    return problems


def _check_rollouts(by_kind: Mapping[tuple[str, str], Manifest]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for (kind, name), obj in by_kind.items():
        if kind != "Rollout":
            continue
        ref = _get(obj, "spec", "workloadRef") or {}
        if ref and (str(ref.get("kind")), str(ref.get("name"))) not in by_kind:
            problems.append(
                ConfigProblem(
                    f"Rollout/{name}: spec.workloadRef",
                    f"refers to {ref.get('kind')}/{ref.get('name')}, which is not rendered",
                    "name an existing Deployment",
                )
            )
        for step in _get(obj, "spec", "strategy", "canary", "steps") or []:
            for template in (step.get("analysis") or {}).get("templates") or []:
                template_name = str(template.get("templateName"))
                if ("AnalysisTemplate", template_name) not in by_kind:
                    problems.append(
                        ConfigProblem(
                            f"Rollout/{name}: analysis",
                            f"AnalysisTemplate {template_name} is not rendered",
                            "include deploy/rollouts in the overlay",
                        )
                    )
    return problems


# ---- the whole check over a rendered overlay -----------------------------------------------------------


def check_rendered(objects: Sequence[Manifest]) -> list[ConfigProblem]:
    """Every deployment cross-check over the objects of one rendered overlay."""
    config_maps = [
        obj
        for obj in objects
        if obj.get("kind") == "ConfigMap" and str(_get(obj, "metadata", "name")).startswith(CONFIG_MAP)
    ]
    if len(config_maps) != 1:
        return [
            ConfigProblem(
                f"ConfigMap/{CONFIG_MAP}",
                f"expected one, found {len(config_maps)}",
                "generate it from deploy/k8s/base/config with configMapGenerator",
            )
        ]
    data: Mapping[str, str] = config_maps[0].get("data") or {}
    missing = [key for key in (SETTINGS_KEY, SHARDS_KEY, EXCHANGES_KEY) if key not in data]
    if missing:
        return [
            ConfigProblem(
                f"ConfigMap/{CONFIG_MAP}", f"lacks {', '.join(missing)}", "add them to configMapGenerator"
            )
        ]
    settings, problems = check_yaml(data[SETTINGS_KEY])
    problems = [ConfigProblem(f"{SETTINGS_KEY}: {p.path}", p.message, p.hint, p.line) for p in problems]
    shards, shard_problems = parse_shards(data[SHARDS_KEY])
    venues, venue_problems = parse_exchanges(data[EXCHANGES_KEY])
    problems += shard_problems + venue_problems + check_endpoints(venues)
    if settings is None:
        return problems
    problems += check_shards(settings.symbols, shards)
    problems += check_manifests(settings, shards, venues, objects, data.keys())
    return problems


def render_overlay(directory: Path, kubectl: str = "kubectl") -> list[dict[str, Any]]:
    """`kubectl kustomize DIR`, parsed. Raises RuntimeError with kubectl's message on failure."""
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed: {result.stderr.strip()}")
    return parse_manifests(result.stdout)


def parse_manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]


def _yaml(text: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    current: Any = obj
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def pod_spec(obj: Manifest) -> Mapping[str, Any] | None:
    """The pod spec of a workload (or of a Pod); None for other kinds."""
    if obj.get("kind") == "Pod":
        spec = obj.get("spec")
        return spec if isinstance(spec, Mapping) else None
    spec = _get(obj, "spec", "template", "spec")
    if spec is None:
        spec = _get(obj, "spec", "jobTemplate", "spec", "template", "spec")
    return spec if isinstance(spec, Mapping) else None


def _containers(obj: Manifest) -> list[Mapping[str, Any]]:
    spec = pod_spec(obj)
    if spec is None:
        return []
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
