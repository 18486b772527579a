"""Standard Webhooks verification, checked against the reference library."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from geminidb_patcher.contract.signatures import WebhookAuthError, sign_headers, verify

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 32).decode()
NOW = 1_780_000_000
BODY = b'{"mode":"plan"}'


def test_verify_accepts_reference_library_signature() -> None:
    # GIVEN headers signed by the reference library
    signed = Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(NOW, UTC), BODY.decode())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(NOW), "webhook-signature": signed}
    # THEN our verifier accepts them
    assert verify([SECRET], headers, BODY, now=NOW, tolerance=300).msg_id == "msg_1"


def test_reference_library_accepts_our_signature() -> None:
    # GIVEN our headers; the library checks timestamps against its own clock, so compare signatures
    headers = sign_headers(SECRET, "msg_2", NOW, BODY)
    expected = Webhook(SECRET).sign("msg_2", datetime.fromtimestamp(NOW, UTC), BODY.decode())
    assert headers["webhook-signature"] == expected


def test_verify_accepts_any_configured_secret_during_rotation() -> None:
    headers = sign_headers(OTHER, "msg_3", NOW, BODY)
    assert verify([SECRET, OTHER], headers, BODY, now=NOW, tolerance=300).msg_id == "msg_3"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"webhook-signature": None}, "missing_headers"),
        ({"webhook-id": None}, "missing_headers"),
        ({"webhook-timestamp": "12ab"}, "bad_timestamp"),
        ({"webhook-timestamp": str(NOW - 301)}, "timestamp_outside_tolerance"),
        ({"webhook-timestamp": str(NOW + 301)}, "timestamp_outside_tolerance"),
        ({"webhook-signature": "v1,AAAA"}, "signature_mismatch"),
        ({"webhook-signature": "v1a,whatever"}, "signature_mismatch"),
        ({"webhook-id": "msg\n2"}, "bad_id"),
    ],
)
def test_verify_rejects_tampered_headers(change: dict[str, str | None], reason: str) -> None:
    headers: dict[str, str] = sign_headers(SECRET, "msg_4", NOW, BODY)
    for name, value in change.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    with pytest.raises(WebhookAuthError) as raised:
        verify([SECRET], headers, BODY, now=NOW, tolerance=300)
    assert raised.value.reason == reason


def test_verify_rejects_signature_for_another_body() -> None:
    headers = sign_headers(SECRET, "msg_5", NOW, BODY)
    with pytest.raises(WebhookAuthError, match="signature_mismatch"):
        verify([SECRET], headers, b'{"mode":"apply"}', now=NOW, tolerance=300)


def test_verify_without_configured_secret_rejects() -> None:
    with pytest.raises(WebhookAuthError, match="no_secret_configured"):
        verify([], sign_headers(SECRET, "m", NOW, BODY), BODY, now=NOW, tolerance=300)


def test_boundaries_of_tolerance_id_length_and_timestamp_digits() -> None:
    # exactly at the tolerance is accepted; the returned message carries id and timestamp
    at_edge = sign_headers(SECRET, "msg_edge", NOW - 300, BODY)
    verified = verify([SECRET], at_edge, BODY, now=NOW, tolerance=300)
    assert (verified.msg_id, verified.timestamp) == ("msg_edge", NOW - 300)
    # a 256-character id is accepted, 257 is not, and neither is any long id even if printable ASCII
    longest = "m" * 256
    assert verify([SECRET], sign_headers(SECRET, longest, NOW, BODY), BODY, now=NOW, tolerance=300).msg_id == longest
    with pytest.raises(WebhookAuthError, match="bad_id"):
        verify([SECRET], sign_headers(SECRET, "m" * 257, NOW, BODY), BODY, now=NOW, tolerance=300)
    # twelve digits (zero-padded) are read; thirteen are refused before any arithmetic
    padded = {**sign_headers(SECRET, "msg_pad", NOW, BODY), "webhook-timestamp": f"{NOW:012d}"}
    assert verify([SECRET], padded, BODY, now=NOW, tolerance=300).timestamp == NOW
    with pytest.raises(WebhookAuthError, match="bad_timestamp"):
        verify([SECRET], {**padded, "webhook-timestamp": f"{NOW:013d}"}, BODY, now=NOW, tolerance=300)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_reported_as_missing(missing: str) -> None:
    headers = {k: v for k, v in sign_headers(SECRET, "msg_m", NOW, BODY).items() if k != missing}
    with pytest.raises(WebhookAuthError) as caught:
        verify([SECRET], headers, BODY, now=NOW, tolerance=300)
    assert caught.value.reason == "missing_headers"


def test_no_configured_secret_is_its_own_reason() -> None:
    with pytest.raises(WebhookAuthError) as caught:
        verify([], sign_headers(SECRET, "msg_n", NOW, BODY), BODY, now=NOW, tolerance=300)
    assert caught.value.reason == "no_secret_configured"


@pytest.mark.parametrize("secret", ["whsec_not*base64", "whsec_YWJj!", "whsec_YWJjZ"])
def test_secrets_that_are_not_base64_are_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="'whsec_' followed by base64"):
        sign_headers(secret, "msg_s", NOW, BODY)


def test_an_unpadded_secret_signs_as_its_padded_form_and_an_empty_one_is_refused() -> None:
    assert sign_headers("whsec_YWJjZA", "msg_p", NOW, BODY) == sign_headers("whsec_YWJjZA==", "msg_p", NOW, BODY)
    with pytest.raises(ValueError, match="key bytes"):
        sign_headers("whsec_", "msg_p", NOW, BODY)


def test_the_simulators_receiver_checks_signatures_as_the_reference_library_makes_them() -> None:
    """The receiver is the specification's rule written apart from ours: the reference library is its oracle."""
    from datetime import UTC, datetime

    from standardwebhooks.webhooks import Webhook

    from geminidb_local.simulator.receivers import standard_webhook_signed

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    moment = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    body = b'{"run_id": "r-1"}'
    signature = Webhook(secret).sign("msg_1", moment, body.decode())
    headers = {"Webhook-Id": "msg_1", "Webhook-Timestamp": str(int(moment.timestamp())), "Webhook-Signature": signature}
    now = moment.timestamp()
    assert standard_webhook_signed(secret, headers, body, now, 300)
    assert not standard_webhook_signed(secret, headers, body + b" ", now, 300)
    assert not standard_webhook_signed(secret, headers, body, now + 301, 300)
