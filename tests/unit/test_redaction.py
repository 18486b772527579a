"""The log redactor masks known secrets and anything shaped like a key, token, signature or keyed URL."""

from __future__ import annotations

import json
import logging

import pytest

from geminidb_patcher.redaction import MASK, Redactor


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=", "secret whsec_"),
        ("sig v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=", "sig v1,"),
        ("SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=host, Signature=" + "ab" * 32, "SignedHeaders=host"),
        ("token MIIEXAMPLEtokenvalue_0123456789abcdefghij", "token "),
        ("https://oapi.dingtalk.com/robot/send?access_token=abc123&timestamp=1&sign=xyz", "robot/send?access_token="),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6", "webhook/send?key="),
        ("https://hooks.slack.com/services/T000/B000/XXXX", "hooks.slack.com/services/"),
        ("https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d", "/open-apis/bot/v2/hook/"),
        ('{"password": "hunter2hunter2"}', '{"password": "'),
    ],
)
def test_secret_shapes_are_masked(text: str, kept: str) -> None:
    masked = Redactor().text(text)
    assert MASK in masked and kept in masked
    for secret in (
        "MfKQ9r8",
        "K5oZfzN",
        "AKEXAMPLE",
        "abab",
        "MIIEXAMPLE",
        "abc123",
        "xyz",
        "693a91f6",
        "XXXX",
        "0a1b2c3d",
        "hunter2",
    ):
        assert secret not in masked


def test_known_values_are_masked_everywhere_including_rotation_lists() -> None:
    redactor = Redactor()
    redactor.remember(["plain-secret-value", "whsec_old whsec_new-rotated", "short"])
    masked = redactor.scrub({"a": ["see plain-secret-value here"], "b": "whsec_new-rotated", "c": "short"})
    assert json.dumps(masked).count(MASK) == 2 and "plain-secret" not in json.dumps(masked)
    assert masked["c"] == "short"  # too short to mask safely


def test_sensitive_keys_are_masked_whatever_their_value() -> None:
    scrubbed = Redactor().scrub({"headers": {"Authorization": "anything", "X-Auth-Token": "t", "Accept": "json"}})
    assert scrubbed == {"headers": {"Authorization": MASK, "X-Auth-Token": MASK, "Accept": "json"}}


def test_the_filter_rewrites_message_and_extras_of_a_record() -> None:
    redactor = Redactor()
    redactor.remember(["s3cr3t-value-1"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value s3cr3t-value-1", None, None)
    record.url = "https://x.example/hook?sig=abcdef"
    record.nested = {"list": ["s3cr3t-value-1"]}
    assert redactor.filter(record)
    assert record.msg == f"value {MASK}"
    assert record.url == f"https://x.example/hook?sig={MASK}"
    assert record.nested == {"list": [MASK]}
