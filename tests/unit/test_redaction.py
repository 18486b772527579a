"""The log redactor masks known secrets and anything shaped like a key, token, signature or keyed URL."""

from __future__ import annotations

import io
import json
import logging

import pytest
from aws_lambda_powertools import Logger

from geminidb_patcher.redaction import MASK, RedactingStream, Redactor


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


def test_the_filter_masks_the_message_and_the_stream_masks_every_field_of_the_line() -> None:
    redactor = Redactor()
    redactor.remember(["s3cr3t-value-1", 'quo"ted\\secret-2', "ünïcode-secret-3"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value s3cr3t-value-1", None, None)
    assert redactor.filter(record) and record.msg == f"value {MASK}"
    sink = io.StringIO()
    logger = Logger(service="redaction-test", stream=RedactingStream(redactor, lambda: sink))  # type: ignore[arg-type]
    logger.addFilter(redactor)
    logger.info(
        "value s3cr3t-value-1",
        extra={
            "url": "https://x.example/hook?sig=abcdef",
            "nested": {"list": ["s3cr3t-value-1", 'quo"ted\\secret-2', "ünïcode-secret-3"]},
            "headers": {"Authorization": 'SDK-HMAC-SHA256 Access=AK, "x\\y"', "X-Auth-Token": "tok"},
        },
    )
    line = json.loads(sink.getvalue())
    assert line["message"] == f"value {MASK}" and line["url"] == f"https://x.example/hook?sig={MASK}"
    assert line["nested"] == {"list": [MASK, MASK, MASK]}
    assert line["headers"] == {"Authorization": MASK, "X-Auth-Token": MASK}


def test_a_json_valued_secret_is_not_split_into_words_that_would_mask_ordinary_fields() -> None:
    redactor = Redactor()
    redactor.remember(['[{"name": "slack-ops", "type": "slack"}]', "whsec_AAAAAAAA whsec_BBBBBBBB"])
    sink = io.StringIO()
    logger = Logger(service="redaction-test-json", stream=RedactingStream(redactor, lambda: sink))  # type: ignore[arg-type]
    logger.info("notification_sent", extra={"channel": "slack-ops", "note": "whsec_BBBBBBBB"})
    line = json.loads(sink.getvalue())  # still JSON
    assert line["channel"] == "slack-ops" and "BBBBBBBB" not in line["note"]
