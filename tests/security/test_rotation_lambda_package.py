"""The rotation Lambda as AWS would run it: the zip Terraform uploads, in a Python that has the standard
library and boto3 only (what the Lambda runtime provides), driving a real rotation through Secrets
Manager (moto's server) and the simulated exchange's key admin, both on 127.0.0.1."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tradestack.security.aws_secrets import SecretsManagerClient
from tradestack.venues.sim_admin_client import SimKeyAdminClient
from tradestack.venues.simulated import SimConfig, SimulatedExchange

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "scripts" / "build_rotation_lambda.py"
# what the python3.11 Lambda runtime has besides the standard library
RUNTIME_PACKAGES = ("boto3", "botocore", "jmespath", "s3transfer", "dateutil", "urllib3", "six")
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def build(out: Path) -> bytes:
    subprocess.run([sys.executable, str(BUILD), "--out", str(out)], check=True, timeout=60)
    return out.read_bytes()


def lambda_runtime(root: Path) -> Path:
    """A directory holding only boto3 and its dependencies, as links into our environment."""
    root.mkdir()
    for name in RUNTIME_PACKAGES:
        module = importlib.import_module(name)
        source = Path(module.__file__ or "")
        target = source.parent if source.name == "__init__.py" else source
        (root / target.name).symlink_to(target)
    return root


@pytest.fixture
async def venue() -> AsyncIterator[SimulatedExchange]:
    sim = SimulatedExchange(SimConfig())
    await asyncio.wait_for(sim.start(), 10)
    try:
        yield sim
    finally:
        await asyncio.wait_for(sim.stop(), 10)


def test_the_package_is_reproducible_and_holds_only_sources(tmp_path: Path) -> None:
    first = build(tmp_path / "a.zip")
    assert build(tmp_path / "b.zip") == first  # same sources, same bytes: a stable source_code_hash
    names = zipfile.ZipFile(tmp_path / "a.zip").namelist()
    assert "tradestack_rotation.py" in names
    assert "tradestack/app/rotation_lambda.py" in names
    assert all(name.endswith(".py") for name in names), [n for n in names if not n.endswith(".py")]
    assert not [name for name in names if "__pycache__" in name or name.startswith("tests/")]


@pytest.mark.timeout(120)
async def test_the_packaged_handler_rotates_a_key_with_only_boto3_beside_it(
    tmp_path: Path,
    venue: SimulatedExchange,
    moto_url: str,
    secrets_client: SecretsManagerClient,
    secret_name: str,
) -> None:
    package = tmp_path / "tradestack_rotation.zip"
    build(package)
    runtime = lambda_runtime(tmp_path / "runtime")

    key_a, secret_a = venue.create_api_key(ip_whitelist=("127.0.0.1",), label="initial")
    secrets_client.create_secret(
        Name=secret_name, SecretString=json.dumps({"api_key": key_a, "api_secret": secret_a})
    )
    token_secret = secret_name + "-admin"
    secrets_client.create_secret(
        Name=token_secret, SecretString=json.dumps({"admin_token": venue.admin_token})
    )
    # Rotation must be enabled on the secret (the handler refuses otherwise). moto enables it, then
    # fails to find the function, which it cannot run anyway.
    with pytest.raises(ClientError):
        secrets_client.rotate_secret(  # type: ignore[attr-defined]
            SecretId=secret_name,
            RotationLambdaARN="arn:aws:lambda:eu-west-1:123456789012:function:rotation",
            RotationRules={"AutomaticallyAfterDays": 30},
            RotateImmediately=False,
        )
    assert secrets_client.describe_secret(SecretId=secret_name).get("RotationEnabled")

    token = str(uuid.uuid4())
    events = [{"SecretId": secret_name, "ClientRequestToken": token, "Step": step} for step in STEPS]
    script = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(package)!r}, {str(runtime)!r}]\n"
        "import tradestack_rotation\n"
        "for event in json.loads(sys.argv[1]):\n"
        "    tradestack_rotation.handler(event, None)\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aiohttp', 'pydantic', 'structlog', 'picows', 'yaml'))\n"
        "print(json.dumps({'leaked': leaked}))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": secrets_client.meta.region_name,  # type: ignore[attr-defined]
        "AWS_ACCESS_KEY_ID": "testing",  # the Lambda runtime's own credential variables
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SECRETS_MANAGER_ENDPOINT": moto_url,
        "KEY_ADMIN": "simulated",
        "KEY_ADMIN_URL": venue.rest_url,
        "KEY_ADMIN_TOKEN_SECRET_ID": token_secret,
        "KEY_IP_WHITELIST": "127.0.0.1",
    }
    # -I -S: no site-packages, no user site, no PYTHON* variables: the zip and boto3, nothing else
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-S", "-c", script, json.dumps(events),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert json.loads(lines[-1]) == {"leaked": []}
    audit = [json.loads(line) for line in lines[:-1]]
    assert [(entry["step"], entry["outcome"] != "failed") for entry in audit] == [
        (step, True) for step in STEPS
    ]
    assert all(venue.admin_token not in line and secret_a not in line for line in lines)

    # by stage: after its failed rotate_secret, moto's unqualified read lags behind the stage labels
    value = secrets_client.get_secret_value(SecretId=secret_name, VersionStage="AWSCURRENT")
    assert value["VersionId"] == token
    current = json.loads(value["SecretString"])
    assert current["api_key"] != key_a
    admin = SimKeyAdminClient(venue.rest_url, venue.admin_token)
    restrictions = await asyncio.to_thread(admin.api_restrictions, current["api_key"], current["api_secret"])
    assert restrictions["enableSpotAndMarginTrading"] and not restrictions["enableWithdrawals"]
    assert restrictions["ipRestrict"]
    # the overlap: key A still works until every engine has switched and it is revoked
    assert (await asyncio.to_thread(admin.api_restrictions, key_a, secret_a))["enableSpotAndMarginTrading"]


def test_binance_is_refused_with_the_reason() -> None:
    from tradestack.app.rotation_lambda import handler_from_environment
    from tradestack.security.rotation import RotationError

    with pytest.raises(RotationError, match="web UI"):
        handler_from_environment({"KEY_ADMIN": "binance"})
    with pytest.raises(RotationError, match="needs KEY_ADMIN"):
        handler_from_environment({})
