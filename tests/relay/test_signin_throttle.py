"""Password guessing is throttled per username and per client address, across
connections: growing delays with retry_after, reset by a successful sign-in, and the
same answers for unknown usernames (no enumeration). Real relay subprocess."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.helpers import RelayRefused, sign_in, sign_up, unique_name
from wire import ErrorCode


async def _refusal(url: str, username: str, password: str) -> RelayRefused:
    """One sign-in attempt on a new connection (reconnecting is what the attack did)."""
    with pytest.raises(RelayRefused) as refused:
        await sign_in(url, username, password)
    return refused.value


async def _guess_until_throttled(url: str, username: str) -> list[str]:
    codes = []
    for _ in range(6):
        codes.append((await _refusal(url, username, "wrong password")).code)
    return codes


@pytest.mark.parametrize("exists", [True, False], ids=["known-user", "unknown-user"])
async def test_failed_sign_ins_of_one_username_get_growing_delays(relay_factory, exists):
    relay = relay_factory()
    name = unique_name("victim")
    if exists:
        await sign_up(relay.url, name, "correct horse")
    # Five guesses, each on a new connection, then a delay of 1 s.
    codes = await _guess_until_throttled(relay.url, name)
    assert codes == [ErrorCode.BAD_CREDENTIALS] * 5 + [ErrorCode.RATE_LIMITED]
    throttled = await _refusal(relay.url, name, "correct horse")  # even the right password
    assert throttled.code == ErrorCode.RATE_LIMITED
    first = throttled.error.retry_after
    assert first is not None and 0 < first <= 1.0
    await asyncio.sleep(first + 0.05)
    assert (await _refusal(relay.url, name, "wrong again")).code == ErrorCode.BAD_CREDENTIALS
    second = (await _refusal(relay.url, name, "wrong again")).error.retry_after
    assert second is not None and 1.0 < second <= 2.0  # the delay doubled
    await asyncio.sleep(second + 0.05)
    if exists:
        await sign_in(relay.url, name, "correct horse")  # a success resets the count
        for _ in range(5):
            assert (await _refusal(relay.url, name, "x" * 8)).code == ErrorCode.BAD_CREDENTIALS
    else:
        assert (await _refusal(relay.url, name, "correct horse")).code == \
            ErrorCode.BAD_CREDENTIALS


async def test_guessing_rate_over_ten_seconds_is_small(relay_factory):
    """The reported attack made 9.2 guesses a second by reconnecting."""
    relay = relay_factory()
    name = unique_name("target")
    await sign_up(relay.url, name, "correct horse")
    t0 = time.monotonic()
    checked = 0
    while time.monotonic() - t0 < 10:
        if (await _refusal(relay.url, name, "guess")).code == ErrorCode.BAD_CREDENTIALS:
            checked += 1
    rate = checked / (time.monotonic() - t0)
    print(f"\npasswords checked in 10 s: {checked} ({rate:.1f}/s)")
    assert checked <= 9  # 5 free, then after 1, 2 and 4 s


async def test_one_address_guessing_many_usernames_is_throttled(relay_factory):
    relay = relay_factory("--signin-address-failures", "6")
    name = unique_name("real")
    await sign_up(relay.url, name, "correct horse")
    codes = [(await _refusal(relay.url, unique_name("spray"), "password1")).code
             for _ in range(7)]
    assert codes == [ErrorCode.BAD_CREDENTIALS] * 6 + [ErrorCode.RATE_LIMITED]
    # A real user on that address is held back too, until the delay passes.
    refused = await _refusal(relay.url, name, "correct horse")
    assert refused.code == ErrorCode.RATE_LIMITED and refused.error.retry_after
    await asyncio.sleep(refused.error.retry_after + 0.05)
    await sign_in(relay.url, name, "correct horse")
