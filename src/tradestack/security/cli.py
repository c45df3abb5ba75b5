"""`tradestack audit verify`: the security commands, registered by the main CLI as `audit`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tradestack.security.audit import AUDIT_KEY_NAME
from tradestack.security.audit_verify import verify_data_dir
from tradestack.security.secrets import FileSecretStore, Secret, SecretNotFound, SecretStoreError

AUDIT_PREVIOUS_KEY_NAME = "audit/hmac_key_previous"

security_app = typer.Typer(no_args_is_help=True, help="Check the audit trail.")


@security_app.callback()
def _group() -> None:
    """The audit trail: `verify` checks a data directory's records."""


def audit_keys(secrets_path: Path) -> tuple[list[Secret], str | None]:
    """The audit HMAC keys (current, then previous) from the secret file; a note when there are none."""
    store = FileSecretStore(secrets_path)
    keys: list[Secret] = []
    note: str | None = None
    for name in (AUDIT_KEY_NAME, AUDIT_PREVIOUS_KEY_NAME):
        try:
            keys.append(store.get(name))
        except SecretNotFound:
            continue
        except SecretStoreError as error:
            note = str(error)
    if not keys and note is None:
        note = f"no {AUDIT_KEY_NAME} in {secrets_path}"
    return keys, note


@security_app.command("verify")
def verify(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="state directory holding audit/ (default ./tradestack-data)")
    ] = Path("./tradestack-data"),
    secrets: Annotated[
        Path | None,
        typer.Option("--secrets", help="secret file with the audit key (default DATA_DIR/secrets.json)"),
    ] = None,
) -> None:
    """Check every link, checkpoint and head. Exit 0 intact, 1 tampered (first broken link shown),
    2 no audit records, 3 torn tail only (a crash mid-append; the prefix is valid)."""
    keys, note = audit_keys(secrets if secrets is not None else data_dir / "secrets.json")
    if note:
        typer.echo(f"note: {note}; signatures cannot be checked", err=True)
    report = verify_data_dir(data_dir, keys)
    typer.echo(report.render())
    raise typer.Exit(report.exit_code)
