"""Reference signatures from the venues' own SDKs, run inside .venv-sdks (never inside tradestack's venv).

Reads one JSON object from stdin, `{"kind": ..., "cases": [...]}`, and writes `{"results": [...]}`,
one result per case, in order. Each SDK is driven through its own public or request-building code
as far as it goes without a network: the clock the SDK would read is replaced by the case's
timestamp, and the HTTP send is replaced by a capture of the request it would have sent.
Run by tests/venues/sdk_reference/client.py; not a test module itself (no `test_` prefix).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any


class Captured(Exception):
    """Raised to stop an SDK right where it would send."""

    def __init__(self, **fields: Any) -> None:
        super().__init__("captured")
        self.fields = fields


def text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


_okx_clients: list[Any] = []


def okx_rest(case: dict[str, Any]) -> dict[str, Any]:
    import okx.utils
    from okx.okxclient import OkxClient

    okx.utils.get_timestamp = lambda: case["timestamp"]
    if not _okx_clients:  # building an httpx client costs ~35 ms: one for the batch, keys set per case
        _okx_clients.append(OkxClient("-", "-", "-", flag="0", debug=False))
    client = _okx_clients[0]
    client.API_KEY, client.API_SECRET_KEY, client.PASSPHRASE = (
        case["api_key"],
        case["secret"],
        case["passphrase"],
    )

    def capture(path: str, data: str = "", headers: dict[str, Any] | None = None) -> None:
        raise Captured(path=path, body=data, headers=headers or {})

    client.get = lambda path, headers: capture(path, "", headers)
    client.post = lambda path, data, headers: capture(path, data, headers)
    try:
        client._request(case["method"], case["path"], case["params"])
    except Captured as captured:
        sent = captured.fields
    headers = {key: text(value) for key, value in sent["headers"].items() if key.startswith("OK-ACCESS-")}
    return {"request_path": sent["path"], "body": sent["body"], "headers": headers}


def okx_websocket_login(case: dict[str, Any]) -> dict[str, Any]:
    from okx.websocket import WsUtils

    WsUtils.getLocalTime = lambda: case["timestamp"]
    frame = WsUtils.initLoginParams(False, case["api_key"], case["passphrase"], case["secret"])
    return dict(json.loads(frame))


def bybit_rest(case: dict[str, Any]) -> dict[str, Any]:
    from pybit import _helpers
    from pybit.unified_trading import HTTP

    _helpers.generate_timestamp = lambda: case["timestamp"]
    session = HTTP(api_key=case["api_key"], api_secret=case["secret"], recv_window=case["recv_window"])

    def capture(request: Any, timeout: Any = None) -> None:
        raise Captured(path_url=request.path_url, body=request.body, headers=dict(request.headers))

    session.client.send = capture
    try:
        session._submit_request(case["method"], session.endpoint + case["path"], dict(case["params"]), True)
    except Captured as captured:
        sent = captured.fields
    headers = {key: text(value) for key, value in sent["headers"].items() if key.startswith("X-BAPI-")}
    return {"path_url": sent["path_url"], "body": text(sent["body"]), "headers": headers}


def bybit_websocket_auth(case: dict[str, Any]) -> dict[str, Any]:
    from pybit import _helpers
    from pybit._websocket_stream import _WebSocketManager

    expire_seconds = 1
    _helpers.generate_timestamp = lambda: case["expires"] - expire_seconds * 1000
    frames: list[str] = []
    manager = SimpleNamespace(
        api_key=case["api_key"],
        api_secret=case["secret"],
        rsa_authentication=False,
        private_auth_expire=expire_seconds,
        ws=SimpleNamespace(send=frames.append),
    )
    _WebSocketManager._auth(manager)
    (frame,) = frames
    return dict(json.loads(frame))


def coinbase_rest(case: dict[str, Any]) -> dict[str, Any]:
    import coinbasepro.auth
    import requests

    coinbasepro.auth.time = SimpleNamespace(time=lambda: case["timestamp"])  # str(...) of it is itself
    auth = coinbasepro.auth.CoinbaseProAuth(case["api_key"], case["secret"], case["passphrase"])
    body = case["body"] or None
    url = "https://api.exchange.coinbase.com" + case["request_path"]
    request = auth(requests.Request(case["method"], url, data=body).prepare())
    headers = {key: text(value) for key, value in request.headers.items() if key.startswith("CB-ACCESS-")}
    return {"path_url": request.path_url, "headers": headers}


def kraken_rest(case: dict[str, Any]) -> dict[str, Any]:
    import krakenex
    import requests

    api = krakenex.API(case["api_key"], case["secret"])
    api._nonce = lambda: case["nonce"]
    sent: dict[str, Any] = {}

    def query(urlpath: str, data: dict[str, Any], headers: dict[str, str], timeout: Any = None) -> None:
        # what requests would put on the wire for this data, as krakenex sends it
        wire = requests.Request("POST", api.uri + urlpath, data=data, headers=headers).prepare()
        sent.update(urlpath=urlpath, body=wire.body, headers=headers)

    api._query = query
    api.query_private(case["method"], dict(case["params"]))
    api.close()
    return {"urlpath": sent["urlpath"], "body": sent["body"], "headers": sent["headers"]}


def binance_rest(case: dict[str, Any]) -> dict[str, Any]:
    import binance.api
    from binance.api import API

    binance.api.get_timestamp = lambda: case["timestamp"]
    api = API(api_key=case["api_key"], api_secret=case.get("secret"), private_key=case.get("private_key_pem"))
    sent: dict[str, Any] = {}
    api.send_request = lambda method, path, payload=None: sent.update(payload=payload)
    api.sign_request("POST", "/api/v3/order", dict(case["params"]))
    return {"query": api._prepare_params(sent["payload"])}


def binance_websocket_api(case: dict[str, Any]) -> dict[str, Any]:
    import binance.lib.utils

    binance.lib.utils.get_timestamp = lambda: case["timestamp"]
    params = binance.lib.utils.websocket_api_signature(case["api_key"], case["secret"], dict(case["params"]))
    return dict(params)


KINDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "okx_rest": okx_rest,
    "okx_websocket_login": okx_websocket_login,
    "bybit_rest": bybit_rest,
    "bybit_websocket_auth": bybit_websocket_auth,
    "coinbase_rest": coinbase_rest,
    "kraken_rest": kraken_rest,
    "binance_rest": binance_rest,
    "binance_websocket_api": binance_websocket_api,
}


def versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ["python-okx", "pybit", "coinbasepro", "binance-connector", "krakenex"]
    return {name: version(name) for name in names}


def main() -> None:
    request = json.load(sys.stdin)
    if request["kind"] == "versions":
        json.dump({"results": versions()}, sys.stdout)
        return
    run = KINDS[request["kind"]]
    json.dump({"results": [run(case) for case in request["cases"]]}, sys.stdout)


if __name__ == "__main__":
    main()
