"""The shared retry policy: backoff, Retry-After, and what may be sent again."""

from __future__ import annotations

import requests
import urllib3.exceptions

from geminidb_patcher.retry import RetryPolicy, may_resend, parse_retry_after, request_was_sent


def test_backoff_doubles_up_to_the_cap_and_stops_after_the_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=4.0, jitter=lambda ceiling: ceiling)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, None]


def test_retry_after_wins_up_to_its_cap() -> None:
    policy = RetryPolicy(jitter=lambda ceiling: ceiling)
    assert policy.delay(1, retry_after=7.0) == 7.0 and policy.delay(1, retry_after=31.0) is None
    assert parse_retry_after("2.5") == 2.5 and parse_retry_after("soon") is None and parse_retry_after("-1") is None


def test_only_a_request_that_provably_did_not_arrive_is_sent_again() -> None:
    assert may_resend(sent=False, status=None) and may_resend(sent=True, status=429)
    assert not may_resend(sent=True, status=None) and not may_resend(sent=True, status=503)


def test_a_failed_connect_proves_the_request_was_not_sent() -> None:
    refused = requests.ConnectionError(urllib3.exceptions.NewConnectionError(None, "refused"))  # type: ignore[arg-type]
    assert not request_was_sent(refused) and not request_was_sent(requests.ConnectTimeout())
    assert request_was_sent(requests.ReadTimeout()) and request_was_sent(requests.ConnectionError("reset"))
