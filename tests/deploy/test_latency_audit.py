"""`tradestack latency-audit` on fixture /proc and /sys trees of a tuned and an untuned host, on an
empty tree (every check "unknown", no crash), and for real on this machine."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradestack.ops.cli import ops_app
from tradestack.ops.latency_audit import CommandRunner, Host, Severity, Status, audit, failed, parse_cpu_list

ETHTOOL_GOOD = {
    "-c": "Coalesce parameters for eth0:\nAdaptive RX: off  TX: off\nrx-usecs: 0\ntx-usecs: 64\n",
    "-g": "Ring parameters for eth0:\nPre-set maximums:\nRX:\t16384\nTX:\t1024\n"
    "Current hardware settings:\nRX:\t16384\nTX:\t1024\n",
}
ETHTOOL_BAD = {
    "-c": "Coalesce parameters for eth0:\nAdaptive RX: on  TX: on\nrx-usecs: 64\n",
    "-g": "Ring parameters for eth0:\nPre-set maximums:\nRX:\t16384\nCurrent hardware settings:\nRX:\t1024\n",
}
CHECKS = {
    "transparent_hugepages",
    "transparent_hugepages_defrag",
    "cpu_governor",
    "cpu_cstates",
    "numa_balancing",
    "swappiness",
    "isolated_cpus",
    "nohz_full_cpus",
    "irq_affinity",
    "irqbalance",
    "nic_coalescing",
    "nic_ring_size",
    "busy_polling",
    "clocksource",
}


def write_host(root: Path, good: bool) -> Path:
    def put(path: str, text: str) -> None:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n")

    put(
        "sys/kernel/mm/transparent_hugepage/enabled",
        "always madvise [never]" if good else "[always] madvise never",
    )
    put(
        "sys/kernel/mm/transparent_hugepage/defrag",
        "always defer defer+madvise [madvise] never" if good else "[always] defer",
    )
    for cpu in range(4):
        put(
            f"sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor",
            "performance" if good else "powersave",
        )
    for index, (name, latency) in enumerate([("POLL", 0), ("C1", 2), ("C6", 133)]):
        put(f"sys/devices/system/cpu/cpu0/cpuidle/state{index}/name", name)
        put(f"sys/devices/system/cpu/cpu0/cpuidle/state{index}/latency", str(latency))
        put(
            f"sys/devices/system/cpu/cpu0/cpuidle/state{index}/disable", "1" if good and latency > 10 else "0"
        )
    put(
        "proc/cmdline",
        "BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p1" + (" isolcpus=2-3 nohz_full=2-3" if good else ""),
    )
    put("proc/sys/kernel/numa_balancing", "0" if good else "1")
    put("proc/sys/vm/swappiness", "0" if good else "60")
    put("sys/devices/system/cpu/isolated", "2-3" if good else "")
    put("sys/devices/system/cpu/nohz_full", "2-3" if good else "(null)")
    for irq in (24, 25, 26):
        put(f"proc/irq/{irq}/smp_affinity_list", "0-1" if good else "0-3")
    put("proc/1/comm", "systemd")
    put("proc/812/comm", "kubelet" if good else "irqbalance")
    put(
        "proc/net/route",
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
        "eth0\t00000000\t0100140A\t0003\t0\t0\t0\t00000000\neth0\t0000140A\t00000000\t0001\t0\t0\t0\t00FFFFFF",
    )
    put("proc/sys/net/core/busy_poll", "50" if good else "0")
    put("proc/sys/net/core/busy_read", "50" if good else "0")
    put("sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc" if good else "xen")
    return root


def ethtool(outputs: dict[str, str]) -> CommandRunner:
    def runner(argv: Sequence[str]) -> str | None:
        assert argv[0] == "ethtool" and argv[2] == "eth0"
        return outputs[argv[1]]

    return runner


def test_a_tuned_host_passes_every_check(tmp_path: Path) -> None:
    findings = audit(Host(write_host(tmp_path, good=True), ethtool(ETHTOOL_GOOD)))
    assert {f.check for f in findings} == CHECKS
    assert {f.check: f.status for f in findings} == dict.fromkeys(CHECKS, Status.OK)
    assert not failed(findings, strict=True)


def test_an_untuned_host_fails_every_check_with_the_fix(tmp_path: Path) -> None:
    findings = audit(Host(write_host(tmp_path, good=False), ethtool(ETHTOOL_BAD)))
    by_check = {f.check: f for f in findings}
    # with no isolated CPUs there is nothing for IRQ affinity to protect: that is said, not guessed
    assert {check for check, f in by_check.items() if f.status is not Status.BAD} == {"irq_affinity"}
    assert by_check["irq_affinity"].found == "no isolated CPUs to protect"
    assert by_check["swappiness"].found == "60"
    assert by_check["swappiness"].severity is Severity.CRITICAL
    assert by_check["transparent_hugepages_defrag"].found == "always"
    assert by_check["cpu_cstates"].found == "enabled: C6(133us)"
    assert (
        by_check["irq_affinity"].found.startswith("3 of 3 IRQs") or by_check["isolated_cpus"].found == "none"
    )
    assert by_check["nic_coalescing"].found == "eth0: rx-usecs 64, adaptive rx on"
    assert by_check["nic_ring_size"].found == "eth0: rx 1024 of max 16384"
    assert by_check["clocksource"].found == "xen"
    for finding in findings:
        assert finding.why and finding.fix and finding.expected, finding.check
    assert failed(findings)


def test_irqs_on_isolated_cpus_are_named(tmp_path: Path) -> None:
    root = write_host(tmp_path, good=True)
    (root / "proc/irq/25/smp_affinity_list").write_text("0-3\n")
    finding = next(f for f in audit(Host(root, ethtool(ETHTOOL_GOOD))) if f.check == "irq_affinity")
    assert finding.status is Status.BAD
    assert finding.found == "1 of 3 IRQs may run on isolated CPUs (IRQ 25)"


def test_missing_files_are_unknown_never_a_crash(tmp_path: Path) -> None:
    findings = audit(Host(tmp_path, lambda argv: None))
    assert {f.check for f in findings} == CHECKS
    assert {f.status for f in findings} == {Status.UNKNOWN}
    assert all(f.found == "unknown" for f in findings)
    assert not failed(findings, strict=True)


def test_unreadable_and_garbage_files_are_unknown(tmp_path: Path) -> None:
    root = write_host(tmp_path, good=True)
    (root / "proc/sys/vm/swappiness").write_bytes(b"\xff\xfe")
    (root / "proc/sys/net/core/busy_poll").write_text("lots\n")
    by_check = {f.check: f for f in audit(Host(root, lambda argv: None))}
    assert by_check["swappiness"].status is Status.UNKNOWN
    assert by_check["busy_polling"].status is Status.UNKNOWN
    assert by_check["nic_coalescing"].status is Status.UNKNOWN


def test_cpu_lists() -> None:
    assert parse_cpu_list("0-3,8,10-11\n") == {0, 1, 2, 3, 8, 10, 11}
    assert parse_cpu_list("") == set()
    assert parse_cpu_list("x,2") == {2}


def test_the_command_prints_json_and_fails_on_a_critical_miss(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(
        ops_app, ["latency-audit", "--root", str(write_host(tmp_path / "bad", False)), "--json"]
    )
    assert bad.exit_code == 1, bad.output
    report = json.loads(bad.output)
    assert report["ok"] is False
    row = next(r for r in report["findings"] if r["check"] == "swappiness")
    assert set(row) == {"check", "status", "severity", "expected", "found", "why", "fix"}
    good = runner.invoke(ops_app, ["latency-audit", "--root", str(write_host(tmp_path / "good", True))])
    assert good.exit_code == 0, good.output
    assert "transparent_hugepages" in good.output


def test_runs_for_real_on_this_machine() -> None:
    result = CliRunner().invoke(ops_app, ["latency-audit", "--json"])
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.output)
    assert {row["check"] for row in report["findings"]} == CHECKS
    assert all(row["status"] in ("ok", "bad", "unknown") for row in report["findings"])


@pytest.mark.parametrize("script", ["scripts/latency-audit.sh"])
def test_the_wrapper_script_runs(script: str, tmp_path: Path) -> None:
    from deploy.deploy_tools import REPO, run

    result = run(
        ["bash", str(REPO / script), "--root", str(write_host(tmp_path, True)), "--json"], timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
