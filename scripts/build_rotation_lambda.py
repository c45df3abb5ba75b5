"""Build the exchange-key rotation Lambda's package: build/tradestack_rotation.zip.

    python scripts/build_rotation_lambda.py [--out build/tradestack_rotation.zip]

What Terraform uploads (`rotation_package`, handler `tradestack_rotation.handler`), after the deploy
pipeline signs it. Contents: a top-level `tradestack_rotation.py` that re-exports the handler from
`tradestack.app.rotation_lambda`, and tradestack's Python sources — no compiled extension, no tests,
no caches, no third-party code (the Lambda runtime brings boto3; nothing else is imported).

Reproducible: entries sorted, timestamps fixed, modes normalised, so the same sources give the same
bytes and Terraform's `source_code_hash` changes only when the code does.
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "src" / "tradestack"
DEFAULT_OUT = REPO / "build" / "tradestack_rotation.zip"
ENTRY = '''"""AWS Lambda entry point of tradestack's key rotation: tradestack/app/rotation_lambda.py."""

from tradestack.app.rotation_lambda import handler

__all__ = ["handler"]
'''
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say; any fixed value makes builds repeatable


def sources() -> list[tuple[str, bytes]]:
    files = sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)
    entries = [(str(path.relative_to(PACKAGE.parent)), path.read_bytes()) for path in files]
    return [("tradestack_rotation.py", ENTRY.encode()), *entries]


def build(out: Path) -> str:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in sorted(sources()):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever machine builds it
            archive.writestr(info, data, compresslevel=9)
    partial.replace(out)  # never a half-written package where Terraform looks
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    digest = build(args.out)
    print(f"{args.out}: sha256 {digest} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
