"""Kubernetes manifests: every overlay renders, validates against the target Kubernetes schema, and
holds the properties the trading deployment depends on."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from deploy.deploy_tools import KUBERNETES_VERSION, OVERLAYS, VENUES, python_module, rendered
from tradestack.ops.config_check import check_rendered, egress_ports, pod_spec

# Custom resources: their schemas are not in kubernetes-validate; the Argo kinds are checked against
# @kubernetes-models/argo-rollouts in test_rollouts.py, all of them by the key checks here.
CUSTOM_KINDS = {"PodMonitor", "PrometheusRule", "Rollout", "AnalysisTemplate"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Rollout"}
# Each venue's public endpoints in the live overlay (the venues' documentation).
LIVE_ENDPOINTS = {
    "binance": ("https://api.binance.com", "wss://stream.binance.com:443"),
    "binance-futures": ("https://fapi.binance.com", "wss://fstream.binance.com"),
    "coinbase": ("https://api.exchange.coinbase.com", "wss://ws-feed.exchange.coinbase.com"),
    "bybit": ("https://api.bybit.com", "wss://stream.bybit.com/v5/public/spot"),
    "kraken": ("https://api.kraken.com", "wss://ws.kraken.com/v2"),
    "okx": ("https://www.okx.com", "wss://ws.okx.com:8443/ws/v5/public"),
}
# The ports each connector may leave on: 443, and for OKX also 8443, the only port of its WebSocket.
CONNECTOR_EGRESS_PORTS = {venue: [443] for venue in VENUES} | {"okx": [443, 8443]}
# Connector egress goes to public addresses only: never the VPC, the cluster or instance metadata.
PRIVATE_RANGES = {"10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"}
# Trading nodes: two c6in.xlarge (deploy/terraform/modules/eks), 3920m allocatable each (4 vCPU less
# EKS's kube-reserved 80m), less what the DaemonSets that tolerate every taint request (aws-node,
# kube-proxy, ebs-csi-node: about 200m; 250m set aside).
TRADING_NODES = 2
TRADING_NODE_CPU = Decimal("3.92") - Decimal("0.25")


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"{kind}/{name} not rendered")


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(obj) or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def _quantity(text: str | int) -> Decimal:
    units = {"m": Decimal("0.001"), "Ki": Decimal(1024), "Mi": Decimal(1024**2), "Gi": Decimal(1024**3)}
    value = str(text)
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return Decimal(value.removesuffix(suffix)) * factor
    return Decimal(value)


@pytest.fixture(params=OVERLAYS)
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return rendered(request.param)


def test_every_object_validates_against_the_target_kubernetes_version(objects: list[dict[str, Any]]) -> None:
    python_module("kubernetes_validate")
    import kubernetes_validate

    checked = set()
    for obj in objects:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        checked.add((obj["kind"], obj["metadata"]["name"]))
    assert len(checked) >= 15
    for venue in VENUES:
        name = f"connector-{venue}"
        assert {("Deployment", name), ("Service", name), ("PodDisruptionBudget", name)} <= checked
        assert ("NetworkPolicy", f"{name}-egress") in checked


def test_unknown_fields_are_caught_by_the_strict_validation() -> None:
    python_module("kubernetes_validate")
    import kubernetes_validate

    statefulset = copy.deepcopy(_find(rendered("live"), "StatefulSet", "trading-engine"))
    statefulset["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, KUBERNETES_VERSION, strict=True)


def test_only_known_custom_kinds_are_rendered(objects: list[dict[str, Any]]) -> None:
    api_groups = {obj["apiVersion"].split("/")[0] for obj in objects if obj["kind"] in CUSTOM_KINDS}
    assert api_groups <= {"monitoring.coreos.com", "argoproj.io"}


def test_every_container_has_requests_and_limits_at_twice_the_requests(
    objects: list[dict[str, Any]],
) -> None:
    containers = [c for obj in objects if obj["kind"] in WORKLOAD_KINDS for c in _containers(obj)]
    assert len(containers) >= 4
    for container in containers:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for resource in ("cpu", "memory"):
            assert resource in requests and resource in limits, (container["name"], resource)
            assert _quantity(limits[resource]) == 2 * _quantity(requests[resource]), (
                container["name"],
                resource,
            )


def test_every_pod_is_non_root_read_only_without_capabilities_and_seccomp(
    objects: list[dict[str, Any]],
) -> None:
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None or obj["kind"] == "Rollout":
            continue
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        for container in _containers(obj):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}


def test_trading_engine_statefulset(objects: list[dict[str, Any]]) -> None:
    statefulset = _find(objects, "StatefulSet", "trading-engine")
    service = _find(objects, "Service", statefulset["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"  # headless: stable per-pod DNS names
    spec = statefulset["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"]["rollingUpdate"]["partition"] == spec["replicas"]
    assert [claim["metadata"]["name"] for claim in spec["volumeClaimTemplates"]] == ["journal"]
    pod = spec["template"]["spec"]
    engine = pod["containers"][0]
    env = {item["name"]: item for item in engine["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert {"name": "journal", "mountPath": "/var/lib/tradestack"} in engine["volumeMounts"]
    node_terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    expression = node_terms["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert (expression["key"], expression["values"]) == ("node-type", ["trading"])
    assert {"key": "node-type", "operator": "Equal", "value": "trading", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["topologyKey"] == "kubernetes.io/hostname"
    assert anti["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
    assert engine["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert engine["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["terminationGracePeriodSeconds"] >= 30
    assert "/drain" in "".join(engine["lifecycle"]["preStop"]["exec"]["command"])
    # ordered start: no shard starts before the risk engine answers /readyz
    wait = pod["initContainers"][0]
    assert "risk-engine:9490/readyz" in "".join(wait["command"])


@pytest.mark.parametrize("venue", VENUES)
def test_connectors_run_two_replicas_spread_over_nodes(objects: list[dict[str, Any]], venue: str) -> None:
    name = f"connector-{venue}"
    deployment = _find(objects, "Deployment", name)
    rollouts = [o for o in objects if o["kind"] == "Rollout" and o["metadata"]["name"] == name]
    if rollouts:  # the Rollout runs the Deployment's template; the Deployment runs no pods itself
        assert rollouts[0]["spec"]["replicas"] == 2
        assert deployment["spec"]["replicas"] == 0
    else:
        assert deployment["spec"]["replicas"] == 2
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"][0]
    assert (spread["topologyKey"], spread["whenUnsatisfiable"], spread["maxSkew"]) == (
        "kubernetes.io/hostname",
        "DoNotSchedule",
        1,
    )
    assert spread["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}


def _venue_neutral(obj: dict[str, Any], venue: str) -> Any:
    """The object with its venue's name replaced by a placeholder and the resources left out."""
    spec = copy.deepcopy(obj["spec"]["template"])
    for container in spec["spec"]["containers"]:
        container.pop("resources")
    text = json.dumps(spec)
    for token in (f'"connector-{venue}"', f'"{venue}"'):
        text = text.replace(token, token.replace(venue, "VENUE"))
    return json.loads(text)


@pytest.mark.parametrize("venue", VENUES[1:])
def test_every_connector_is_hardened_like_the_binance_one(objects: list[dict[str, Any]], venue: str) -> None:
    """Same pod template as connector-binance (security contexts, probes, affinity, tolerations,
    spread, volumes, image, config files) but for the venue; only the resources may differ."""
    deployment = _find(objects, "Deployment", f"connector-{venue}")
    assert _venue_neutral(deployment, venue) == _venue_neutral(
        _find(objects, "Deployment", "connector-binance"), "binance"
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--venue") + 1] == venue
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["tradestack.io/exchange"] == venue
    assert labels["app.kubernetes.io/component"] == "connector"
    assert deployment["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": f"connector-{venue}"}
    service = _find(objects, "Service", f"connector-{venue}")
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": f"connector-{venue}"}
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"http": 9490, "feed": 9500}


@pytest.mark.parametrize("venue", VENUES)
def test_every_connector_keeps_one_feed_up_through_a_drain(objects: list[dict[str, Any]], venue: str) -> None:
    budget = _find(objects, "PodDisruptionBudget", f"connector-{venue}")
    assert budget["spec"] == {
        "minAvailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": f"connector-{venue}"}},
    }


def _venues(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return yaml.safe_load(_config_map(objects)["exchanges.yaml"])["venues"]  # type: ignore[no-any-return]


def test_every_venue_has_endpoints_and_a_connector_and_no_more(objects: list[dict[str, Any]]) -> None:
    assert set(_venues(objects)) == set(VENUES)
    connectors = {
        o["metadata"]["name"]
        for o in objects
        if o["kind"] == "Deployment"
        and o["metadata"]["labels"].get("app.kubernetes.io/component") == "connector"
    }
    assert connectors == {f"connector-{venue}" for venue in VENUES}


def test_the_live_overlay_reads_the_venues_production_endpoints() -> None:
    venues = _venues(rendered("live"))
    assert {name: (urls["rest"], urls["stream"]) for name, urls in venues.items()} == LIVE_ENDPOINTS


def _egress_of(objects: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    """Every egress rule of every NetworkPolicy that selects a pod with these labels."""
    rules: list[dict[str, Any]] = []
    for obj in objects:
        if obj["kind"] != "NetworkPolicy" or "Egress" not in obj["spec"].get("policyTypes", []):
            continue
        selector = obj["spec"]["podSelector"]
        assert set(selector) <= {"matchLabels"}, obj["metadata"]["name"]  # no expressions to evaluate
        if (selector.get("matchLabels") or {}).items() <= labels.items():
            rules.extend(obj["spec"].get("egress") or [])
    return rules


def _is_dns(rule: dict[str, Any]) -> bool:
    peers = rule.get("to") or []
    return (
        bool(peers)
        and all(
            (peer.get("podSelector") or {}).get("matchLabels") == {"k8s-app": "kube-dns"} for peer in peers
        )
        and {p["port"] for p in rule["ports"]} == {53}
    )


@pytest.mark.parametrize("venue", VENUES)
def test_each_connector_leaves_only_for_its_venues_ports_on_public_addresses(
    objects: list[dict[str, Any]], venue: str
) -> None:
    """All the policies that select the connector's pods, together: DNS, and the ports of its
    venue's endpoints in exchanges.yaml exactly (443 unless a URL names another), public addresses
    only. Kubernetes matches addresses, not host names: the hosts are pinned by exchanges.yaml."""
    deployment = _find(objects, "Deployment", f"connector-{venue}")
    rules = [
        r for r in _egress_of(objects, deployment["spec"]["template"]["metadata"]["labels"]) if not _is_dns(r)
    ]
    urls = _venues(objects)[venue]
    expected = {urlsplit(urls["rest"]).port or 443, urlsplit(urls["stream"]).port or 443}
    assert {(p["protocol"], p["port"]) for r in rules for p in r["ports"]} == {
        ("TCP", port) for port in expected
    }
    for rule in rules:
        assert rule.get("to") == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": sorted(PRIVATE_RANGES)}}]
    # and no other connector's policy reaches this venue's pods
    for other in VENUES:
        policy = _find(objects, "NetworkPolicy", f"connector-{other}-egress")
        selects = (
            policy["spec"]["podSelector"]["matchLabels"].items()
            <= deployment["spec"]["template"]["metadata"]["labels"].items()
        )
        assert selects == (other == venue), other


def test_the_engines_and_connectors_fit_the_trading_nodes(objects: list[dict[str, Any]]) -> None:
    """CPU requested on the trading nodes (pods pinned by node affinity), with room for one surge pod
    of the largest connector during a rolling update: pods that do not fit stay Pending."""
    requested, largest_surge = Decimal(0), Decimal(0)
    for obj in objects:
        if obj["kind"] not in {"Deployment", "StatefulSet"}:
            continue
        spec = pod_spec(obj) or {}
        required = (
            (spec.get("affinity") or {})
            .get("nodeAffinity", {})
            .get("requiredDuringSchedulingIgnoredDuringExecution", {})
        )
        expressions = [e for term in required.get("nodeSelectorTerms", []) for e in term["matchExpressions"]]
        if {"key": "node-type", "operator": "In", "values": ["trading"]} not in expressions:
            continue
        replicas = obj["spec"]["replicas"]
        if obj["kind"] == "Deployment" and replicas == 0:  # the Rollout runs it
            replicas = next(
                o["spec"]["replicas"]
                for o in objects
                if o["kind"] == "Rollout" and o["metadata"]["name"] == obj["metadata"]["name"]
            )
        cpu = sum((_quantity(c["resources"]["requests"]["cpu"]) for c in spec["containers"]), Decimal(0))
        requested += replicas * cpu
        if obj["kind"] == "Deployment":
            largest_surge = max(largest_surge, cpu)
    # the shards repel each other and every connector spreads over both nodes: each holds half, and
    # the node that takes a surge pod holds it too
    assert requested / TRADING_NODES + largest_surge <= TRADING_NODE_CPU, (requested, largest_surge)


def test_every_workload_has_a_disruption_budget(objects: list[dict[str, Any]]) -> None:
    budgets = [o["spec"]["selector"]["matchLabels"] for o in objects if o["kind"] == "PodDisruptionBudget"]
    for obj in objects:
        if obj["kind"] in {"Deployment", "StatefulSet"}:
            assert obj["spec"]["selector"]["matchLabels"] in budgets, obj["metadata"]["name"]


def test_network_policies_deny_by_default_and_connectors_leave_on_443_or_okx_on_8443_too(
    objects: list[dict[str, Any]],
) -> None:
    policies = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "NetworkPolicy"}
    deny = policies["default-deny"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    connector = policies["connector"]
    assert connector["policyTypes"] == ["Ingress"] and "egress" not in connector  # egress: per venue
    assert set(CONNECTOR_EGRESS_PORTS) == set(VENUES)
    for venue in VENUES:
        egress = policies[f"connector-{venue}-egress"]["egress"]
        expected = [{"protocol": "TCP", "port": port} for port in CONNECTOR_EGRESS_PORTS[venue]]
        assert [port for rule in egress for port in rule["ports"]] == expected, venue
        # and check-deploy-config allows exactly these, no more
        assert egress_ports(venue) == set(CONNECTOR_EGRESS_PORTS[venue]), venue


def test_only_the_engines_service_account_is_bound_to_an_iam_role(objects: list[dict[str, Any]]) -> None:
    roles = {
        o["metadata"]["name"]: (o["metadata"].get("annotations") or {}).get("eks.amazonaws.com/role-arn")
        for o in objects
        if o["kind"] == "ServiceAccount"
    }
    assert roles.pop("trading-engine", "").startswith("arn:aws:iam::")
    assert set(roles.values()) == {None}
    statefulset = _find(objects, "StatefulSet", "trading-engine")
    assert statefulset["spec"]["template"]["spec"]["serviceAccountName"] == "trading-engine"


def test_pod_monitor_selects_every_tradestack_pod(objects: list[dict[str, Any]]) -> None:
    monitor = _find(objects, "PodMonitor", "tradestack")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "http"
    scraped = set()
    for obj in objects:
        if obj["kind"] in {"Deployment", "StatefulSet"}:
            labels = obj["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), obj["metadata"]["name"]
            ports = [p["name"] for c in _containers(obj) for p in c.get("ports") or []]
            assert "http" in ports
            scraped.add(obj["metadata"]["name"])
    assert {f"connector-{venue}" for venue in VENUES} <= scraped


def test_config_and_manifests_agree(objects: list[dict[str, Any]]) -> None:
    """Shard count = StatefulSet replicas, each symbol in one shard, TLS endpoints, ports, files."""
    assert check_rendered(objects) == []


def _config_map(objects: list[dict[str, Any]]) -> dict[str, str]:
    return next(o for o in objects if o["kind"] == "ConfigMap")["data"]  # type: ignore[no-any-return]


def test_a_symbol_in_two_shards_or_none_is_reported() -> None:
    objects = copy.deepcopy(rendered("paper"))
    data = _config_map(objects)
    data["shards.yaml"] = (
        "shards:\n  - {index: 0, symbols: [BTCUSDT, ETHUSDT]}\n  - {index: 1, symbols: [ETHUSDT]}\n"
    )
    problems = check_rendered(objects)
    assert [p.path for p in problems] == ["shards.yaml: ETHUSDT"]
    assert "owned by shards [0, 1]" in problems[0].message
    data["shards.yaml"] = "shards:\n  - {index: 0, symbols: [BTCUSDT]}\n  - {index: 1, symbols: [SOLUSDT]}\n"
    messages = [p.message for p in check_rendered(objects)]
    assert any("no shard owns it" in m for m in messages)
    assert any("SOLUSDT" in m and "does not trade" in m for m in messages)


def test_replicas_that_differ_from_the_shard_count_are_reported() -> None:
    objects = copy.deepcopy(rendered("live"))
    _find(objects, "StatefulSet", "trading-engine")["spec"]["replicas"] = 3
    problems = check_rendered(objects)
    assert any("3 pods but shards.yaml has 2 shards" in p.message for p in problems)


def test_endpoints_without_tls_or_off_port_443_are_reported() -> None:
    objects = copy.deepcopy(rendered("live"))
    _config_map(objects)["exchanges.yaml"] = (
        "venues:\n  binance:\n    rest: http://api.binance.com\n    stream: wss://stream.binance.com:9443\n"
    )
    messages = [p.message for p in check_rendered(objects)]
    assert any("does not use TLS" in m for m in messages)
    assert any("port 9443" in m for m in messages)


def test_8443_is_okx_websockets_alone_in_the_rendered_overlay() -> None:
    """The live overlay passes with OKX's stream on 8443; 8443 for another venue's stream, another
    port for OKX, or 8443 in another venue's policy is refused, naming the field."""
    objects = copy.deepcopy(rendered("live"))
    data = _config_map(objects)
    exchanges = data["exchanges.yaml"]
    assert "stream: wss://ws.okx.com:8443/ws/v5/public" in exchanges
    assert check_rendered(objects) == []
    data["exchanges.yaml"] = exchanges.replace("wss://ws.kraken.com/v2", "wss://ws.kraken.com:8443/v2")
    problems = check_rendered(objects)
    assert [p.path for p in problems] == ["exchanges.yaml: venues.kraken.stream"]
    assert "may only reach port 443" in problems[0].message
    data["exchanges.yaml"] = exchanges.replace("ws.okx.com:8443", "ws.okx.com:9443")
    problems = check_rendered(objects)
    assert [p.path for p in problems] == ["exchanges.yaml: venues.okx.stream"]
    assert "may only reach port 443 or 8443" in problems[0].message
    data["exchanges.yaml"] = exchanges
    _find(objects, "NetworkPolicy", "connector-bybit-egress")["spec"]["egress"][0]["ports"].append(
        {"protocol": "TCP", "port": 8443}
    )
    problems = check_rendered(objects)
    assert [p.path for p in problems] == ["NetworkPolicy/connector-bybit-egress: egress[0].ports"]


def test_loopback_http_host_and_missing_config_files_are_reported() -> None:
    objects = copy.deepcopy(rendered("paper"))
    data = _config_map(objects)
    data["tradestack.yaml"] = data["tradestack.yaml"].replace("host: 0.0.0.0", "host: 127.0.0.1")
    del data["exchanges.yaml"]
    assert "lacks exchanges.yaml" in check_rendered(objects)[0].message
    data["exchanges.yaml"] = "venues: {binance: {rest: 'https://a.example', stream: 'wss://b.example'}}"
    messages = [p.message for p in check_rendered(objects)]
    assert any("unreachable from the kubelet" in m for m in messages)


def test_shards_must_reach_the_firm_risk_service_the_manifests_run() -> None:
    objects = copy.deepcopy(rendered("live"))
    data = _config_map(objects)
    settings = data["tradestack.yaml"]
    data["tradestack.yaml"] = settings.replace("url: http://risk-engine:9491", "url: http://risk:9491")
    assert any("no Service risk in the manifests" in p.message for p in check_rendered(objects))
    data["tradestack.yaml"] = settings.replace("url: http://risk-engine:9491", "url: http://risk-engine:80")
    assert any("has no port 80" in p.message for p in check_rendered(objects))
    data["tradestack.yaml"] = settings.replace("  port: 9491\n", "  port: 9999\n")
    problems = check_rendered(objects)
    assert any("risk port 9491 but the settings serve on 9999" in p.message for p in problems)
    data["tradestack.yaml"] = settings.replace("url: http://risk-engine:9491", "url: null")
    problems = check_rendered(objects)
    assert [p.path for p in problems] == ["tradestack.yaml: risk_service.url"]
    assert "without the firm-wide limits" in problems[0].message


def test_the_prometheus_rule_is_generated_from_the_monitoring_rules(objects: list[dict[str, Any]]) -> None:
    import yaml

    from deploy.deploy_tools import DEPLOY, REPO, run, tool

    rules_dir = DEPLOY / "monitoring" / "prometheus" / "rules"
    source = [
        g for path in sorted(rules_dir.glob("*.y*ml")) for g in yaml.safe_load(path.read_text())["groups"]
    ]
    rule = _find(objects, "PrometheusRule", "tradestack")
    assert rule["spec"]["groups"] == source
    assert any("alert" in r for group in source for r in group["rules"])
    generator = DEPLOY / "k8s" / "generate_prometheus_rule.py"
    result = run([tool("python"), str(generator), "--check"], cwd=REPO)
    assert result.returncode == 0, result.stderr


def test_promtool_accepts_the_rendered_rules(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    import yaml

    from deploy.deploy_tools import run, tool

    rules = tmp_path / "rules.yml"
    rules.write_text(
        yaml.safe_dump({"groups": _find(objects, "PrometheusRule", "tradestack")["spec"]["groups"]})
    )
    result = run([tool("promtool"), "check", "rules", str(rules)])
    assert result.returncode == 0, result.stdout + result.stderr
