"""API-key management on the simulated exchange, the start-up key check, and a rotation for real:
two overlapping keys at the venue, Secrets Manager on moto, trading continuously throughout."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tradestack.app.rotation_lambda import SimVenueKeys
from tradestack.domain.events import Side
from tradestack.ports import SystemClock
from tradestack.security.audit import RotationStep
from tradestack.security.aws_secrets import AwsSecretsManagerStore, SecretsManagerClient
from tradestack.security.key_permissions import KeyPolicy, UnsafeApiKey, enforce_key_policy
from tradestack.security.rotation import RotationHandler, rotate
from tradestack.venues._shared.errors import VenueRejected
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.key_permissions import BinanceKeyPermissions
from tradestack.venues.binance.rest_gateway import BinanceRestGateway
from tradestack.venues.sim_admin_client import SimKeyAdminClient, SimKeyAdminError
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

pytestmark = pytest.mark.timeout(90)

LOCAL = ("127.0.0.1",)


@asynccontextmanager
async def running() -> AsyncIterator[SimulatedExchange]:
    config = SimConfig(flow=FlowConfig(enabled=False), orders_per_10s=10_000, weight_limit_per_minute=100_000)
    exchange = SimulatedExchange(config, SystemClock())
    await asyncio.wait_for(exchange.start(), 10)
    try:
        yield exchange
    finally:
        await asyncio.wait_for(exchange.stop(), 10)


@asynccontextmanager
async def gateway(exchange: SimulatedExchange, key: str, secret: str) -> AsyncIterator[BinanceRestGateway]:
    async with BinanceRestGateway(
        HmacSigner(key, secret), clock=SystemClock(), base_url=exchange.rest_url, order_connections=0
    ) as made:
        await made.sync_time()
        yield made


async def _order(made: BinanceRestGateway, client_id: str) -> None:
    await made.new_order("BTCUSDT", Side.BUY, "LIMIT", "0.001", "50000.00", "GTC", client_id)


async def test_keys_overlap_then_the_old_one_is_revoked() -> None:
    async with running() as exchange:
        key_a, secret_a = exchange.create_api_key(ip_whitelist=LOCAL)
        admin = SimKeyAdminClient(exchange.rest_url, exchange.admin_token)
        key_b, secret_b = await asyncio.to_thread(admin.create_key, "rotation-1")
        assert await asyncio.to_thread(admin.create_key, "rotation-1") == (key_b, secret_b)  # idempotent
        async with gateway(exchange, key_a, secret_a) as with_a, gateway(exchange, key_b, secret_b) as with_b:
            with pytest.raises(VenueRejected) as refused:
                await _order(with_b, "b-before-enable")  # created with trading off
            assert refused.value.code == -2015
            await asyncio.to_thread(admin.enable_key, key_b)
            await _order(with_a, "a-1")
            await _order(with_b, "b-1")  # both valid: the overlap
            await asyncio.to_thread(admin.revoke_key, key_a)
            with pytest.raises(VenueRejected) as revoked:
                await _order(with_a, "a-2")
            assert revoked.value.code == -2015
            await _order(with_b, "b-2")
        listed = await asyncio.to_thread(admin.keys)
        assert [entry["apiKey"] for entry in listed] == [key_b]
        assert all("secret" not in name.lower() for entry in listed for name in entry)
        with pytest.raises(SimKeyAdminError, match="401"):
            await asyncio.to_thread(SimKeyAdminClient(exchange.rest_url, "wrong").keys)


async def test_an_ip_outside_the_whitelist_is_refused() -> None:
    async with running() as exchange:
        key, secret = exchange.create_api_key(ip_whitelist=("10.1.2.3",))
        async with gateway(exchange, key, secret) as made:
            with pytest.raises(VenueRejected) as refused:
                await made.account()
            assert refused.value.code == -2015


async def test_the_start_up_check_refuses_withdrawal_keys_and_keys_without_a_whitelist() -> None:
    async with running() as exchange:
        clock = SystemClock()

        def source(key: str, secret: str) -> BinanceKeyPermissions:
            return BinanceKeyPermissions(HmacSigner(key, secret), exchange.rest_url, clock.now_ns)

        good = source(*exchange.create_api_key(ip_whitelist=LOCAL))
        restrictions = await enforce_key_policy(good, KeyPolicy(), "binance")
        assert restrictions.can_trade and not restrictions.can_withdraw and restrictions.ip_restricted

        withdrawing = source(*exchange.create_api_key(ip_whitelist=LOCAL, can_withdraw=True))
        with pytest.raises(UnsafeApiKey, match="can withdraw"):
            await enforce_key_policy(withdrawing, KeyPolicy(), "binance")

        open_key, open_secret = exchange.create_api_key()
        with pytest.raises(UnsafeApiKey, match="no IP whitelist") as raised:
            await enforce_key_policy(source(open_key, open_secret), KeyPolicy(), "binance")
        assert open_key not in str(raised.value) and open_secret not in str(raised.value)
        await enforce_key_policy(
            source(open_key, open_secret), KeyPolicy(require_ip_whitelist=False), "binance"
        )

        exchange.revoke_api_key(open_key)
        with pytest.raises(VenueRejected):
            await source(open_key, open_secret).key_restrictions()


class Engine:
    """One trading engine's credential handling: read AWSCURRENT through the cached store, switch
    gateways when the version changes, refresh at once on an authentication failure."""

    def __init__(
        self, name: str, exchange: SimulatedExchange, store: AwsSecretsManagerStore, secret_id: str
    ) -> None:
        self.name = name
        self.exchange = exchange
        self.store = store
        self.secret_id = secret_id
        self.version = ""
        self.gateway: BinanceRestGateway | None = None
        self.auth_failures = 0
        self.acked = 0
        self.intended = 0
        self.switches = 0

    async def _ensure(self) -> BinanceRestGateway:
        version = await asyncio.to_thread(self.store.version, self.secret_id)
        if version != self.version or self.gateway is None:
            fields = await asyncio.to_thread(self.store.get_fields, self.secret_id)
            fresh = BinanceRestGateway(
                HmacSigner(fields["api_key"].reveal(), fields["api_secret"].reveal()),
                clock=SystemClock(),
                base_url=self.exchange.rest_url,
                order_connections=0,
            )
            await fresh.start()
            await fresh.sync_time()
            old, self.gateway, self.version = self.gateway, fresh, version
            self.switches += 1
            if old is not None:
                await old.close()
        assert self.gateway is not None
        return self.gateway

    async def trade(self, stop: asyncio.Event) -> None:
        number = 0
        while not stop.is_set():
            number += 1
            self.intended += 1
            made = await self._ensure()
            client_id = f"{self.name}-{number}"
            try:
                await _order(made, client_id)
                await made.cancel_order("BTCUSDT", client_id)
                self.acked += 1
            except VenueRejected as error:
                if error.code in (-2014, -2015):
                    self.auth_failures += 1
                    await asyncio.to_thread(self.store.refresh, self.secret_id)
                else:
                    raise
            await asyncio.sleep(0.12)  # ~8 orders/s: inside the gateway's own 100 per 10 s

    async def close(self) -> None:
        if self.gateway is not None:
            await self.gateway.close()


async def test_trading_through_a_rotation_has_no_auth_failures_and_misses_no_order(
    secrets_client: SecretsManagerClient, secret_name: str
) -> None:
    async with running() as exchange:
        key_a, secret_a = exchange.create_api_key(ip_whitelist=LOCAL, label="initial")
        secrets_client.create_secret(
            Name=secret_name, SecretString=json.dumps({"api_key": key_a, "api_secret": secret_a})
        )
        audited: list[RotationStep] = []
        handler = RotationHandler(
            secrets_client,
            SimVenueKeys(SimKeyAdminClient(exchange.rest_url, exchange.admin_token)),
            audit=audited.append,
            require_rotation_enabled=False,
        )
        engines = [
            Engine(
                f"engine{index}",
                exchange,
                AwsSecretsManagerStore(secrets_client, refresh_interval_s=0.3, overlap_window_s=30),
                secret_name,
            )
            for index in range(2)
        ]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(engine.trade(stop)) for engine in engines]
        try:
            await asyncio.sleep(0.3)
            token = str(uuid.uuid4())
            await asyncio.to_thread(rotate, handler, secret_name, token)
            # revoke A only once every engine reports the new version
            deadline = asyncio.get_running_loop().time() + 10
            while not await asyncio.to_thread(
                handler.revoke_previous,
                secret_name,
                lambda version: all(e.version == version for e in engines),
            ):
                assert asyncio.get_running_loop().time() < deadline, "engines never switched"
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # keep trading on key B alone
        finally:
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for engine in engines:
                await engine.close()
        failures = [result for result in results if isinstance(result, BaseException)]
        assert not failures, failures
        assert all(engine.auth_failures == 0 for engine in engines)
        assert all(engine.acked == engine.intended > 10 for engine in engines)
        assert all(engine.switches == 2 for engine in engines)
        live = set(exchange.keys.permissions)
        assert key_a not in live and len(live) == 1
        assert [step.step for step in audited][-1] == "revokePrevious"
        assert all(secret_a not in repr(step) for step in audited)
