"""`tradestack rollout` against a fake Kubernetes API and a fake Prometheus (aiohttp, loopback).

The fake API keeps one StatefulSet and plays its controller: pods with an ordinal >= the partition
move to the update revision (not ready at first, ready on the next look). The fake Prometheus
answers the health queries badly while any pod runs an image tagged `bad`.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from typer.testing import CliRunner

from deploy.deploy_tools import DEPLOY
from tradestack.ops.cli import ops_app
from tradestack.ops.rollout import (
    KubernetesApi,
    Prometheus,
    RolloutSettings,
    evaluate_condition,
    load_health_metrics,
    rollout,
)

TEMPLATE = DEPLOY / "rollouts" / "analysis-template.yaml"
OLD, NEW, BAD = "repo/tradestack@sha256:old", "repo/tradestack@sha256:new", "repo/tradestack@sha256:bad"
NAMESPACE = "tradestack-live"


@dataclass
class FakeCluster:
    replicas: int = 2
    image: str = OLD
    partition: int = 2
    pods: dict[int, dict[str, Any]] = field(default_factory=dict)
    partitions: list[int] = field(default_factory=list)  # every partition patched, in order
    queries: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for ordinal in range(self.replicas):
            self.pods[ordinal] = {"image": OLD, "revision": self.revision(OLD), "ready": True}

    @staticmethod
    def revision(image: str) -> str:
        return "trading-engine-" + image.rsplit(":", 1)[1]

    def reconcile(self) -> None:
        """The StatefulSet controller: pods at or above the partition follow the template."""
        for ordinal, pod in self.pods.items():
            if ordinal >= self.partition and pod["revision"] != self.revision(self.image):
                pod.update(image=self.image, revision=self.revision(self.image), ready=False)
            elif not pod["ready"]:
                pod["ready"] = True

    def statefulset(self) -> dict[str, Any]:
        return {
            "spec": {
                "replicas": self.replicas,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": self.partition}},
                "template": {"spec": {"containers": [{"name": "trading-engine", "image": self.image}]}},
            },
            "status": {"updateRevision": self.revision(self.image)},
        }

    def app(self) -> web.Application:
        base = "/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"

        async def get_statefulset(request: web.Request) -> web.Response:
            assert request.match_info["name"] == "trading-engine"
            self.reconcile()
            return web.json_response(self.statefulset())

        async def patch_statefulset(request: web.Request) -> web.Response:
            assert request.content_type == "application/strategic-merge-patch+json"
            spec = (await request.json())["spec"]
            rolling = spec.get("updateStrategy", {}).get("rollingUpdate", {})
            if "partition" in rolling:
                self.partition = rolling["partition"]
                self.partitions.append(self.partition)
            for container in spec.get("template", {}).get("spec", {}).get("containers", []):
                assert container["name"] == "trading-engine"  # merged by name, never replaced
                self.image = container["image"]
            return web.json_response(self.statefulset())

        async def get_pod(request: web.Request) -> web.Response:
            name = request.match_info["name"]
            ordinal = int(name.rsplit("-", 1)[1])
            if ordinal not in self.pods:
                return web.json_response({"message": f"pods {name} not found"}, status=404)
            pod = self.pods[ordinal]
            return web.json_response(
                {
                    "metadata": {"name": name, "labels": {"controller-revision-hash": pod["revision"]}},
                    "spec": {"containers": [{"name": "trading-engine", "image": pod["image"]}]},
                    "status": {"conditions": [{"type": "Ready", "status": str(pod["ready"])}]},
                }
            )

        async def query(request: web.Request) -> web.Response:
            promql = request.query["query"]
            self.queries.append(promql)
            unhealthy = any(pod["image"] == BAD for pod in self.pods.values())
            if "trading_fill_latency_seconds_bucket" in promql:
                value = 2.0 if unhealthy else 0.02
            elif "trading_websocket_up" in promql:
                value = 1.0
            else:
                value = 0.0
            result = [{"metric": {}, "value": [1700000000.0, str(value)]}]
            return web.json_response(
                {"status": "success", "data": {"resultType": "vector", "result": result}}
            )

        app = web.Application()
        app.router.add_get(base, get_statefulset)
        app.router.add_patch(base, patch_statefulset)
        app.router.add_get("/api/v1/namespaces/{namespace}/pods/{name}", get_pod)
        app.router.add_get("/api/v1/query", query)
        return app


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


async def _run(cluster: FakeCluster, image: str) -> Any:
    import aiohttp

    runner = web.AppRunner(cluster.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    settings = RolloutSettings(
        namespace=NAMESPACE,
        image=image,
        metrics=load_health_metrics(TEMPLATE, {"exchange": "binance"}),
        analysis_rounds=3,
        ready_timeout=5,
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            return await rollout(
                KubernetesApi(session, url), Prometheus(session, url), settings, sleep=_no_wait
            )
    finally:
        await runner.cleanup()


async def test_a_healthy_image_reaches_every_shard_one_at_a_time() -> None:
    cluster = FakeCluster()
    report = await _run(cluster, NEW)
    assert report.ok and report.previous_image == OLD
    assert report.updated_shards == [1, 0]
    assert cluster.partitions == [2, 1, 0, 2]  # hold, shard 1, shard 0, back to "nothing pending"
    assert [pod["image"] for pod in cluster.pods.values()] == [NEW, NEW]
    assert all('exchange="binance"' in query for query in cluster.queries)
    assert len(cluster.queries) == 2 * 3 * 4  # two shards, three rounds, four metrics


async def test_a_failed_analysis_rolls_the_canary_shard_back() -> None:
    cluster = FakeCluster()
    report = await _run(cluster, BAD)
    assert not report.ok
    assert (report.failed_shard, report.failed_metrics) == (1, ["fill-latency-p99"])
    assert report.updated_shards == []
    assert cluster.image == OLD
    assert [pod["image"] for pod in cluster.pods.values()] == [OLD, OLD]
    assert all(pod["ready"] for pod in cluster.pods.values())
    assert cluster.partitions == [2, 1, 1, 2]  # shard 0 was never touched
    assert report.log[-1] == f"rolled back to {OLD}"


async def test_the_same_image_is_a_no_op() -> None:
    cluster = FakeCluster()
    report = await _run(cluster, OLD)
    assert report.ok and cluster.partitions == []


def test_success_conditions_of_the_template() -> None:
    metrics = {m.name: m for m in load_health_metrics(TEMPLATE, {"exchange": "binance"})}
    assert set(metrics) == {"fill-latency-p99", "rejection-rate", "position-drift", "websocket-up"}
    assert metrics["fill-latency-p99"].passes([0.1]) and not metrics["fill-latency-p99"].passes([0.7])
    assert metrics["fill-latency-p99"].passes([])  # no fills in the window: nothing to judge
    assert metrics["websocket-up"].passes([1.0]) and not metrics["websocket-up"].passes([0.0])
    assert not metrics["websocket-up"].passes([])  # no stream reported at all is a failure
    assert evaluate_condition("result[0] >= 2 && len(result) == 1", [3.0])
    with pytest.raises(ValueError, match="unsupported"):
        evaluate_condition("result[0] < 1 || isNaN(result[0])", [0.0])


@pytest.fixture
def served_cluster() -> Iterator[tuple[FakeCluster, str]]:
    cluster = FakeCluster()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> web.AppRunner:
        runner = web.AppRunner(cluster.app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner

    runner = asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    try:
        yield cluster, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_the_command(served_cluster: tuple[FakeCluster, str]) -> None:
    cluster, url = served_cluster
    arguments = ["rollout", "--namespace", NAMESPACE, "--api", url, "--prometheus", url, "--template"]
    arguments += [str(TEMPLATE), "--rounds", "2", "--interval", "0", "--poll-interval", "0.01", "--json"]
    result = CliRunner().invoke(ops_app, [*arguments, "--image", NEW])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["updated_shards"] == [1, 0]
    result = CliRunner().invoke(ops_app, [*arguments, "--image", BAD])
    assert result.exit_code == 1, result.output
    assert json.loads(result.output)["failed_metrics"] == ["fill-latency-p99"]
    assert [pod["image"] for pod in cluster.pods.values()] == [NEW, NEW]
