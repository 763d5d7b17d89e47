"""SSRF guard: addresses, DNS answers and the allow-list."""

from __future__ import annotations

import asyncio

import pytest

from crawl.netguard import BlockedAddress, NetworkPolicy


def fake_dns(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"NXDOMAIN {host}")
        return answers[host]

    return resolve


def resolve(policy: NetworkPolicy, host: str) -> str:
    return asyncio.run(policy.resolve(host, 443))


@pytest.mark.parametrize(
    "ip,why",
    [
        ("169.254.169.254", "metadata"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.5", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("fe80::1", "link_local"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "reserved"),
        ("::ffff:10.0.0.1", "private"),
    ],
)
def test_non_public_literals_blocked(ip: str, why: str) -> None:
    with pytest.raises(BlockedAddress) as err:
        resolve(NetworkPolicy(), ip)
    assert err.value.reason == "blocked_address"
    assert why in err.value.detail


def test_public_address_allowed() -> None:
    policy = NetworkPolicy(resolver=fake_dns({"example.org": ["93.184.215.14"]}))
    assert resolve(policy, "example.org") == "93.184.215.14"


def test_dns_answer_pointing_to_private_range_blocked() -> None:
    policy = NetworkPolicy(resolver=fake_dns({"evil.example": ["10.0.0.7"]}))
    with pytest.raises(BlockedAddress, match="10.0.0.7"):
        resolve(policy, "evil.example")


def test_one_private_answer_among_public_blocks_host() -> None:
    policy = NetworkPolicy(resolver=fake_dns({"mixed.example": ["93.184.215.14", "169.254.169.254"]}))
    with pytest.raises(BlockedAddress, match="metadata"):
        resolve(policy, "mixed.example")


def test_allow_list_by_network_and_by_name() -> None:
    policy = NetworkPolicy(allow=("127.0.0.0/8", "replay.internal"),
                           resolver=fake_dns({"replay.internal": ["10.9.9.9"], "other.internal": ["10.9.9.9"]}))
    assert resolve(policy, "127.0.0.5") == "127.0.0.5"
    assert resolve(policy, "replay.internal") == "10.9.9.9"
    with pytest.raises(BlockedAddress):
        resolve(policy, "other.internal")
    with pytest.raises(BlockedAddress):
        resolve(policy, "169.254.169.254")


def test_unresolvable_host_is_dns_error() -> None:
    with pytest.raises(BlockedAddress) as err:
        resolve(NetworkPolicy(resolver=fake_dns({})), "nowhere.example")
    assert err.value.reason == "dns_error"
