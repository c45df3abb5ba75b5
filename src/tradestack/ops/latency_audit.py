"""`tradestack latency-audit`: is this host tuned for low-latency trading?

Every check reads the kernel's own view (/proc, /sys) under a root directory — `/` on a host,
`/host` in a debug pod with the node's root mounted, a fixture tree in tests — and reports what it
expected, what it found, how bad a miss is, why it matters and how to fix it. A file that is
missing or unreadable is "unknown", never a crash: VMs hide cpufreq, containers hide /proc/irq.

NIC coalescing and ring sizes are not in /proc or /sys: they come from `ethtool -c/-g`, through an
injectable runner so tests need no NIC.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path


class Status(StrEnum):
    OK = "ok"
    BAD = "bad"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    CRITICAL = "critical"  # costs milliseconds (reclaim stalls, swap, deep C-states)
    WARNING = "warning"  # costs tens of microseconds of tail latency
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    status: Status
    severity: Severity
    expected: str
    found: str
    why: str
    fix: str

    def to_json_dict(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items()}


# (argv) -> stdout, or None when the command is missing or fails
CommandRunner = Callable[[Sequence[str]], str | None]
UNKNOWN = "unknown"


def run_command(argv: Sequence[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


class Host:
    """Read-only access to one host's /proc and /sys under `root`."""

    def __init__(self, root: Path = Path("/"), runner: CommandRunner = run_command) -> None:
        self.root = root
        self.runner = runner

    def read(self, path: str) -> str | None:
        try:
            return (self.root / path.lstrip("/")).read_text().strip()
        except (OSError, UnicodeDecodeError):
            return None

    def glob(self, pattern: str) -> list[Path]:
        try:
            return sorted(self.root.glob(pattern.lstrip("/")))
        except OSError:
            return []


def _selected(text: str) -> str:
    """`always madvise [never]` -> `never`."""
    match = re.search(r"\[([^\]]+)\]", text)
    return match.group(1) if match else text


def parse_cpu_list(text: str) -> set[int]:
    """`0-3,8,10-11` -> {0, 1, 2, 3, 8, 10, 11}; empty or malformed parts are ignored."""
    cpus: set[int] = set()
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            start = int(low)
            end = int(high) if high else start
        except ValueError:
            continue
        cpus.update(range(start, end + 1))
    return cpus


def _format_cpus(cpus: set[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus)) or "none"


def _finding(
    check: str,
    ok: bool | None,
    severity: Severity,
    expected: str,
    found: str | None,
    why: str,
    fix: str,
) -> Finding:
    status = Status.UNKNOWN if ok is None or found is None else (Status.OK if ok else Status.BAD)
    return Finding(check, status, severity, expected, UNKNOWN if found is None else found, why, fix)


# ---- the checks --------------------------------------------------------------------------------------


def check_thp(host: Host) -> list[Finding]:
    enabled = host.read("/sys/kernel/mm/transparent_hugepage/enabled")
    defrag = host.read("/sys/kernel/mm/transparent_hugepage/defrag")
    enabled_value = _selected(enabled) if enabled is not None else None
    defrag_value = _selected(defrag) if defrag is not None else None
    return [
        _finding(
            "transparent_hugepages",
            None if enabled_value is None else enabled_value in ("never", "madvise"),
            Severity.WARNING,
            "never (or madvise)",
            enabled_value,
            "khugepaged collapses pages in the background and page faults may allocate huge pages: "
            "both stall the hot path unpredictably",
            "echo never > /sys/kernel/mm/transparent_hugepage/enabled "
            "(kernel arg transparent_hugepage=never)",
        ),
        _finding(
            "transparent_hugepages_defrag",
            None if defrag_value is None else defrag_value in ("never", "madvise", "defer"),
            Severity.CRITICAL,
            "never (or madvise, defer)",
            defrag_value,
            "with defrag=always a page fault compacts memory synchronously: millisecond stalls",
            "echo never > /sys/kernel/mm/transparent_hugepage/defrag",
        ),
    ]


def check_governor(host: Host) -> Finding:
    files = host.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor")
    governors = {text for path in files if (text := host.read(str(path.relative_to(host.root))))}
    found = ",".join(sorted(governors)) if governors else None
    return _finding(
        "cpu_governor",
        None if not governors else governors == {"performance"},
        Severity.WARNING,
        "performance on every CPU",
        found,
        "other governors lower the clock when idle and take time to ramp up on the next burst",
        "cpupower frequency-set -g performance (or tuned-adm profile network-latency)",
    )


def check_cstates(host: Host) -> Finding:
    """Deep idle states take tens to hundreds of microseconds to leave."""
    cmdline = host.read("/proc/cmdline") or ""
    limited = re.search(r"(intel_idle\.max_cstate=[01]\b|processor\.max_cstate=1\b|idle=poll\b)", cmdline)
    max_cstate = host.read("/sys/module/intel_idle/parameters/max_cstate")
    states = host.glob("/sys/devices/system/cpu/cpu0/cpuidle/state[0-9]*")
    deep: list[str] = []
    for state in states:
        relative = str(state.relative_to(host.root))
        latency = host.read(f"{relative}/latency")
        disabled = host.read(f"{relative}/disable")
        name = host.read(f"{relative}/name") or state.name
        if latency is not None and latency.isdigit() and int(latency) > 10 and disabled != "1":
            deep.append(f"{name}({latency}us)")
    ok: bool | None
    if limited:
        ok, found = True, limited.group(1)
    elif max_cstate is not None and max_cstate.isdigit() and int(max_cstate) <= 1:
        ok, found = True, f"intel_idle max_cstate={max_cstate}"
    elif states:
        ok, found = not deep, ("enabled: " + ", ".join(deep)) if deep else "no deep state enabled"
    else:
        ok, found = None, None
    return _finding(
        "cpu_cstates",
        ok,
        Severity.WARNING,
        "no idle state with exit latency > 10us enabled",
        found,
        "waking from a deep C-state adds tens to hundreds of microseconds to the first packet after idle",
        "kernel args intel_idle.max_cstate=1 processor.max_cstate=1 (or disable states in cpuidle/*/disable)",
    )


def check_numa_balancing(host: Host) -> Finding:
    value = host.read("/proc/sys/kernel/numa_balancing")
    return _finding(
        "numa_balancing",
        None if value is None else value == "0",
        Severity.WARNING,
        "0",
        value,
        "automatic NUMA balancing unmaps pages to sample access, causing minor faults on the hot path",
        "sysctl -w kernel.numa_balancing=0",
    )


def check_swappiness(host: Host) -> Finding:
    value = host.read("/proc/sys/vm/swappiness")
    ok = None if value is None or not value.isdigit() else int(value) <= 10
    return _finding(
        "swappiness",
        ok,
        Severity.CRITICAL,
        "<= 10 (ideally 0 with no swap)",
        value,
        "a swapped-out page of the engine costs milliseconds to fault back in",
        "sysctl -w vm.swappiness=0 (and swapoff -a)",
    )


def _isolated(host: Host) -> set[int] | None:
    text = host.read("/sys/devices/system/cpu/isolated")
    return None if text is None else parse_cpu_list(text)


def check_isolation(host: Host) -> list[Finding]:
    isolated = _isolated(host)
    nohz_text = host.read("/sys/devices/system/cpu/nohz_full")
    nohz = None if nohz_text is None or nohz_text == "(null)" else parse_cpu_list(nohz_text)
    if nohz_text == "(null)":
        nohz = set()
    return [
        _finding(
            "isolated_cpus",
            None if isolated is None else bool(isolated),
            Severity.WARNING,
            "some CPUs isolated for the engine (isolcpus=)",
            None if isolated is None else _format_cpus(isolated),
            "the scheduler puts other tasks and kernel threads on the engine's CPU, preempting it",
            "kernel args isolcpus=managed_irq,domain,2-3 (and pin the engine there; the kubelet's static "
            "CPU manager does this for Guaranteed pods)",
        ),
        _finding(
            "nohz_full_cpus",
            None if nohz is None or isolated is None else bool(nohz) and isolated <= nohz,
            Severity.INFO,
            "the isolated CPUs run tickless (nohz_full=)",
            None if nohz is None else _format_cpus(nohz),
            "the scheduler tick interrupts a busy CPU every 1-4 ms",
            "kernel args nohz_full=<isolated cpus> rcu_nocbs=<isolated cpus>",
        ),
    ]


def check_irq_affinity(host: Host) -> Finding:
    isolated = _isolated(host)
    files = host.glob("/proc/irq/[0-9]*/smp_affinity_list")
    if isolated is None or not files:
        found = None
        ok = None
    elif not isolated:
        found, ok = "no isolated CPUs to protect", None
    else:
        hitting = []
        for path in files:
            text = host.read(str(path.relative_to(host.root)))
            if text is not None and parse_cpu_list(text) & isolated:
                hitting.append(path.parent.name)
        ok = not hitting
        found = f"{len(hitting)} of {len(files)} IRQs may run on isolated CPUs" + (
            f" (IRQ {', '.join(hitting[:8])}{'...' if len(hitting) > 8 else ''})" if hitting else ""
        )
    return _finding(
        "irq_affinity",
        ok,
        Severity.WARNING,
        "no IRQ on an isolated CPU",
        found,
        "an interrupt on the engine's CPU preempts it for its whole handler and softirq",
        "echo <housekeeping cpus> > /proc/irq/*/smp_affinity_list (and /proc/irq/default_smp_affinity)",
    )


def check_irqbalance(host: Host) -> Finding:
    processes = host.glob("/proc/[0-9]*/comm")
    why = "irqbalance moves interrupts back onto the isolated CPUs every 10 seconds"
    fix = "systemctl disable --now irqbalance (or set IRQBALANCE_BANNED_CPULIST to the isolated CPUs)"
    if not processes:
        return _finding("irqbalance", None, Severity.WARNING, "not running", None, why, fix)
    running = any(host.read(str(path.relative_to(host.root))) == "irqbalance" for path in processes)
    banned = host.read("/etc/default/irqbalance") or host.read("/etc/sysconfig/irqbalance") or ""
    configured = "IRQBALANCE_BANNED_CPU" in banned
    return _finding(
        "irqbalance",
        not running or configured,
        Severity.WARNING,
        "not running (or banned from the isolated CPUs)",
        ("running" + (" with banned CPUs" if configured else "")) if running else "not running",
        why,
        fix,
    )


def default_interface(host: Host) -> str | None:
    """The interface of the default route, from /proc/net/route."""
    table = host.read("/proc/net/route")
    if table is None:
        return None
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            return fields[0]
    return None


def _ethtool_values(output: str | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if output is None:
        return values
    section = ""
    for line in output.splitlines():
        if line.lower().startswith("pre-set maximums"):
            section = "max "
        elif line.lower().startswith("current hardware settings"):
            section = ""
        key, sep, value = line.partition(":")
        if sep and value.strip():
            values[section + key.strip().lower()] = value.strip()
    return values


def check_nic(host: Host) -> list[Finding]:
    interface = default_interface(host)
    coalesce = _ethtool_values(host.runner(["ethtool", "-c", interface])) if interface else {}
    rings = _ethtool_values(host.runner(["ethtool", "-g", interface])) if interface else {}
    rx_usecs = coalesce.get("rx-usecs")
    adaptive = coalesce.get("adaptive rx", "").split()[:1]  # "on  TX: on" -> ["on"]
    rx_ring, rx_max = rings.get("rx"), rings.get("max rx")
    coalescing_ok = None
    if rx_usecs is not None and rx_usecs.isdigit():
        coalescing_ok = int(rx_usecs) <= 10 and (not adaptive or adaptive[0] == "off")
    ring_ok = None
    if rx_ring and rx_max and rx_ring.isdigit() and rx_max.isdigit():
        ring_ok = int(rx_ring) >= min(int(rx_max), 4096)
    where = interface or "no default route"
    return [
        _finding(
            "nic_coalescing",
            coalescing_ok,
            Severity.WARNING,
            "rx-usecs <= 10, adaptive rx off",
            None
            if rx_usecs is None
            else f"{where}: rx-usecs {rx_usecs}, adaptive rx {' '.join(adaptive) or '?'}",
            "interrupt coalescing holds received packets back to batch interrupts: added receive latency",
            f"ethtool -C {where} adaptive-rx off rx-usecs 0 (ENA: rx-usecs 0 via ethtool -C)",
        ),
        _finding(
            "nic_ring_size",
            ring_ok,
            Severity.INFO,
            "rx ring at its maximum (or >= 4096)",
            None if rx_ring is None else f"{where}: rx {rx_ring} of max {rx_max}",
            "a small ring drops packets during bursts (market data spikes), forcing resyncs",
            f"ethtool -G {where} rx <max>",
        ),
    ]


def check_busy_poll(host: Host) -> Finding:
    poll = host.read("/proc/sys/net/core/busy_poll")
    read = host.read("/proc/sys/net/core/busy_read")
    ok = None
    if poll is not None and read is not None and poll.isdigit() and read.isdigit():
        ok = int(poll) > 0 and int(read) > 0
    return _finding(
        "busy_polling",
        ok,
        Severity.INFO,
        "busy_poll and busy_read > 0 (e.g. 50 us)",
        None if poll is None or read is None else f"busy_poll={poll} busy_read={read}",
        "busy polling reads the NIC queue from the receiving thread instead of waiting for an interrupt",
        "sysctl -w net.core.busy_poll=50 net.core.busy_read=50",
    )


def check_clocksource(host: Host) -> Finding:
    current = host.read("/sys/devices/system/clocksource/clocksource0/current_clocksource")
    return _finding(
        "clocksource",
        None if current is None else current == "tsc",
        Severity.WARNING,
        "tsc",
        current,
        "reading xen/hpet/acpi_pm clocks is a slow system call (microseconds) instead of a vDSO read; "
        "every timestamp pays it",
        "kernel args clocksource=tsc tsc=reliable (Nitro instances support tsc)",
    )


def audit(host: Host) -> list[Finding]:
    findings: list[Finding] = []
    findings += check_thp(host)
    findings.append(check_governor(host))
    findings.append(check_cstates(host))
    findings.append(check_numa_balancing(host))
    findings.append(check_swappiness(host))
    findings += check_isolation(host)
    findings.append(check_irq_affinity(host))
    findings.append(check_irqbalance(host))
    findings += check_nic(host)
    findings.append(check_busy_poll(host))
    findings.append(check_clocksource(host))
    return findings


def failed(findings: Sequence[Finding], strict: bool = False) -> bool:
    """Critical misses fail; with strict, warnings too."""
    failing = {Severity.CRITICAL, Severity.WARNING} if strict else {Severity.CRITICAL}
    return any(f.status is Status.BAD and f.severity in failing for f in findings)
