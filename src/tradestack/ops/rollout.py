"""`tradestack rollout`: canary the trading shards one at a time through the StatefulSet partition.

A StatefulSet with `updateStrategy.rollingUpdate.partition: P` updates only the pods whose ordinal is
>= P. Starting from P = N (nothing updated), we lower the partition by one, wait for that one shard
to run the new revision and be ready, run the same health analysis as the connectors' Argo canary
(the `trading-health` AnalysisTemplate in deploy/rollouts: fill latency P99, rejection rate,
position drift, WebSocket up), and go on to the next shard — or roll back: restore the previous
image so the updated shards return to it, then put the partition back to N.

It speaks a few Kubernetes API calls (get/patch a StatefulSet, get a Pod) and Prometheus' instant
query, over aiohttp. `--api` is the API server or a `kubectl proxy`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

STRATEGIC_MERGE = "application/strategic-merge-patch+json"
_CLAUSE = re.compile(r"^\s*(len\(result\)|result\[0\])\s*(<=|>=|==|!=|<|>)\s*(-?[0-9.]+(?:e-?\d+)?)\s*$")


class RolloutError(Exception):
    """The rollout could not proceed (API error, timeout); the message says where it stopped."""


@dataclass(frozen=True, slots=True)
class HealthMetric:
    """One metric of the AnalysisTemplate: a PromQL query and its successCondition."""

    name: str
    query: str
    condition: str

    def passes(self, result: Sequence[float]) -> bool:
        return evaluate_condition(self.condition, result)


def evaluate_condition(condition: str, result: Sequence[float]) -> bool:
    """Argo's successCondition for the forms our template uses: clauses on `len(result)` and
    `result[0]`, joined by `||` or `&&` (one kind per condition). Anything else is an error."""
    joiner = "||" if "||" in condition else "&&"
    if "||" in condition and "&&" in condition:
        raise ValueError(f"mixed || and && in {condition!r}")
    outcomes = []
    for clause in condition.split(joiner):
        match = _CLAUSE.match(clause)
        if match is None:
            raise ValueError(f"unsupported clause {clause.strip()!r} in {condition!r}")
        subject, operator, number = match.groups()
        if subject == "len(result)":
            value: float | None = float(len(result))
        else:
            value = result[0] if result else None
        if value is None:
            outcomes.append(False)
            continue
        limit = float(number)
        outcomes.append(
            {
                "<": value < limit,
                "<=": value <= limit,
                ">": value > limit,
                ">=": value >= limit,
                "==": value == limit,
                "!=": value != limit,
            }[operator]
        )
    return any(outcomes) if joiner == "||" else all(outcomes)


def load_health_metrics(template: Path, arguments: Mapping[str, str]) -> list[HealthMetric]:
    """The metrics of an AnalysisTemplate file, with `{{args.NAME}}` filled in."""
    document = yaml.safe_load(template.read_text())
    defaults = {arg["name"]: arg.get("value", "") for arg in document["spec"].get("args", [])}
    values = {**defaults, **arguments}

    def fill(text: str) -> str:
        return re.sub(r"\{\{\s*args\.([\w-]+)\s*\}\}", lambda m: values[m.group(1)], text)

    return [
        HealthMetric(
            metric["name"], fill(metric["provider"]["prometheus"]["query"]), metric["successCondition"]
        )
        for metric in document["spec"]["metrics"]
    ]


@dataclass(frozen=True, slots=True)
class RolloutSettings:
    namespace: str
    image: str
    metrics: Sequence[HealthMetric]
    statefulset: str = "trading-engine"
    container: str = "trading-engine"
    analysis_rounds: int = 5
    analysis_interval: float = 60.0
    ready_timeout: float = 600.0
    poll_interval: float = 2.0


@dataclass(slots=True)
class RolloutReport:
    ok: bool = False
    previous_image: str = ""
    updated_shards: list[int] = field(default_factory=list)
    failed_shard: int | None = None
    failed_metrics: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


class KubernetesApi:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str | None = None) -> None:
        self._session = session
        self._base = base.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = STRATEGIC_MERGE
        async with self._session.request(method, self._base + path, json=body, headers=headers) as response:
            data = await response.json(content_type=None)
            if response.status >= 400:
                message = data.get("message") if isinstance(data, dict) else data
                raise RolloutError(f"{method} {path}: HTTP {response.status}: {message}")
            if not isinstance(data, dict):
                raise RolloutError(f"{method} {path}: unexpected answer")
            return data

    def _statefulset_path(self, namespace: str, name: str) -> str:
        return f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"

    async def get_statefulset(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._call("GET", self._statefulset_path(namespace, name))

    async def patch_statefulset(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PATCH", self._statefulset_path(namespace, name), patch)

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._call("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")


class Prometheus:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self._session = session
        self._base = base.rstrip("/")

    async def query(self, promql: str) -> list[float]:
        """Instant query; the values of the result vector (or the scalar)."""
        async with self._session.get(f"{self._base}/api/v1/query", params={"query": promql}) as response:
            body = await response.json(content_type=None)
        if response.status != 200 or body.get("status") != "success":
            raise RolloutError(f"prometheus query failed ({response.status}): {body.get('error', body)}")
        data = body["data"]
        if data["resultType"] == "scalar":
            return [float(data["result"][1])]
        return [float(sample["value"][1]) for sample in data["result"]]


Sleep = Callable[[float], Awaitable[None]]


async def analyse(
    prometheus: Prometheus, metrics: Sequence[HealthMetric], rounds: int, interval: float, sleep: Sleep
) -> list[str]:
    """Run every metric `rounds` times, `interval` apart; the names of the metrics that failed."""
    failed: list[str] = []
    for round_number in range(rounds):
        if round_number:
            await sleep(interval)
        for metric in metrics:
            if metric.name not in failed and not metric.passes(await prometheus.query(metric.query)):
                failed.append(metric.name)
        if failed:
            break
    return failed


def _container_image(spec: Mapping[str, Any], container: str) -> str:
    for item in spec["containers"]:
        if item["name"] == container:
            return str(item["image"])
    raise RolloutError(f"no container {container!r}")


def _ready(pod: Mapping[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def _wait_for_shard(
    api: KubernetesApi,
    settings: RolloutSettings,
    ordinal: int,
    image: str,
    sleep: Sleep,
    clock: Callable[[], float],
) -> None:
    """Until pod <statefulset>-<ordinal> runs the update revision with `image` and is ready."""
    name = f"{settings.statefulset}-{ordinal}"
    deadline = clock() + settings.ready_timeout
    while True:
        statefulset = await api.get_statefulset(settings.namespace, settings.statefulset)
        revision = statefulset.get("status", {}).get("updateRevision")
        pod = await api.get_pod(settings.namespace, name)
        labels = pod.get("metadata", {}).get("labels", {})
        if (
            labels.get("controller-revision-hash") == revision
            and _container_image(pod["spec"], settings.container) == image
            and _ready(pod)
        ):
            return
        if clock() > deadline:
            raise RolloutError(f"{name} not ready on {image} within {settings.ready_timeout:g} s")
        await sleep(settings.poll_interval)


async def rollout(
    api: KubernetesApi,
    prometheus: Prometheus,
    settings: RolloutSettings,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] | None = None,
) -> RolloutReport:
    """Move the shards to `settings.image` one at a time, highest ordinal first; roll back on failure."""
    now = clock or asyncio.get_running_loop().time
    report = RolloutReport()
    namespace, name = settings.namespace, settings.statefulset
    statefulset = await api.get_statefulset(namespace, name)
    replicas = int(statefulset["spec"]["replicas"])
    # The image the shards run now: the last shard's pod has not been touched by this rollout.
    last_pod = await api.get_pod(namespace, f"{name}-{replicas - 1}")
    report.previous_image = _container_image(last_pod["spec"], settings.container)
    report.log.append(f"{name}: {replicas} shards on {report.previous_image}; target {settings.image}")
    if report.previous_image == settings.image:
        report.ok = True
        report.log.append("nothing to do: the shards already run the target image")
        return report

    def template_patch(image: str, partition: int) -> dict[str, Any]:
        return {
            "spec": {
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
                "template": {"spec": {"containers": [{"name": settings.container, "image": image}]}},
            }
        }

    await api.patch_statefulset(namespace, name, template_patch(settings.image, replicas))
    for ordinal in range(replicas - 1, -1, -1):
        await api.patch_statefulset(
            namespace, name, {"spec": {"updateStrategy": {"rollingUpdate": {"partition": ordinal}}}}
        )
        report.log.append(f"shard {ordinal}: updating")
        await _wait_for_shard(api, settings, ordinal, settings.image, sleep, now)
        failed = await analyse(
            prometheus, settings.metrics, settings.analysis_rounds, settings.analysis_interval, sleep
        )
        if failed:
            report.failed_shard = ordinal
            report.failed_metrics = failed
            report.log.append(f"shard {ordinal}: analysis failed ({', '.join(failed)}); rolling back")
            await api.patch_statefulset(namespace, name, template_patch(report.previous_image, ordinal))
            for updated in [ordinal, *report.updated_shards]:
                await _wait_for_shard(api, settings, updated, report.previous_image, sleep, now)
            await api.patch_statefulset(
                namespace, name, {"spec": {"updateStrategy": {"rollingUpdate": {"partition": replicas}}}}
            )
            report.log.append(f"rolled back to {report.previous_image}")
            return report
        report.updated_shards.append(ordinal)
        report.log.append(f"shard {ordinal}: healthy on {settings.image}")
    # Every shard runs the new revision; the partition goes back to N for the next rollout.
    await api.patch_statefulset(
        namespace, name, {"spec": {"updateStrategy": {"rollingUpdate": {"partition": replicas}}}}
    )
    report.ok = True
    report.log.append("all shards updated")
    return report
