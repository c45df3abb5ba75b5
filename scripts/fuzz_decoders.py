"""Every venue decoder fuzzed at full counts (issue 4, item 6): writes reports/fuzz_decoders.json.

    .venv/bin/python scripts/fuzz_decoders.py [--examples 5000] [--seed N] [--out reports/fuzz_decoders.json]

Per decoder, `--examples` inputs of each kind (any bytes, wrong types and absurd values, extra fields)
from tests/reliability/fuzz_battery.py, the same table the short cut in `make test` runs
(tests/reliability/test_decoder_fuzz.py, TRADESTACK_FUZZ_EXAMPLES). Exit status 1 on any failure; the
report names the decoder, the kind, the error and the shrunk input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
sys.path[0] = str(REPO / "tests")  # the battery lives with the tests

from reliability.fuzz_battery import (  # noqa: E402
    Decoder,
    arbitrary,
    build_decoders,
    comparable,
    structured,
    with_extra_fields,
)


def _run(decoder: Decoder, kind: str, examples: int, run_seed: int) -> str | None:
    """One kind of input through one decoder; the failure, worded, or None."""
    options = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    if kind == "arbitrary":

        @seed(run_seed)
        @options
        @given(data=arbitrary(decoder.seeds))
        def check_bytes(data: bytes) -> None:
            decoder.check(data)

        test = check_bytes
    elif kind == "structured":

        @seed(run_seed)
        @options
        @given(data=st.data())
        def check_structured(data: st.DataObject) -> None:
            decoder.check(data.draw(structured(decoder.seeds)))

        test = check_structured
    else:

        @seed(run_seed)
        @options
        @given(pair=with_extra_fields(decoder.seeds, decoder.maps))
        def check_extra(pair: tuple[bytes, bytes]) -> None:
            original, extended = pair
            assert comparable(decoder.check(extended)) == comparable(decoder.check(original))

        test = check_extra
    try:
        test()
    except Exception as error:  # a broken contract: reported, the run goes on
        return f"{type(error).__name__}: {error}"[:2000]
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="inputs per decoder and kind")
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "fuzz_decoders.json")
    args = parser.parse_args()
    started = time.monotonic()
    decoders: dict[str, Any] = {}
    failures: list[dict[str, str]] = []
    for decoder in build_decoders():
        kinds = ["arbitrary", "structured"] + ([] if decoder.state is not None else ["extra_fields"])
        decoder_started = time.monotonic()
        for kind in kinds:
            failure = _run(decoder, kind, args.examples, args.seed)
            if failure is not None:
                failures.append({"decoder": decoder.name, "kind": kind, "failure": failure})
        decoders[decoder.name] = {
            "examples": decoder.stats["accepted"] + decoder.stats["rejected"],
            "accepted": decoder.stats["accepted"],
            "rejected_typed": decoder.stats["rejected"],
            "kinds": kinds,
            "seconds": round(time.monotonic() - decoder_started, 2),
        }
        print(f"{decoder.name:34} {decoders[decoder.name]}", flush=True)
    report = {
        "seed": args.seed,
        "examples_per_kind": args.examples,
        "decoders": decoders,
        "decoder_count": len(decoders),
        "total_examples": sum(entry["examples"] for entry in decoders.values()),
        "failures": failures,
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{report['total_examples']} inputs, {len(failures)} failures, {report['seconds']} s -> {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
