"""The SigV4 signer against botocore's (a dev-only oracle), over randomised requests."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from geminidb_patcher.aws.sigv4 import AwsCredentials, SigV4Signer, canonical_path, host_header

SEGMENT_CHARS = string.ascii_letters + string.digits + "-_.~" + "%20é+=:@!$&'()*,;"
VALUE_CHARS = string.ascii_letters + string.digits + " -_.~/+=&%é:"


def _segment(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.1:
        return rng.choice([".", "..", ""])
    return quote("".join(rng.choice(SEGMENT_CHARS) for _ in range(rng.randint(1, 8))), safe="/~-_.%")


def _request(rng: random.Random) -> tuple[str, str, dict[str, str], bytes]:
    scheme = rng.choice(["http", "https"])
    host = rng.choice(["dynamodb.eu-west-1.amazonaws.com", "127.0.0.1", "Example.COM", "localhost"])
    port = rng.choice(["", ":80", ":443", ":4566", ":8000"])
    path = "/" + "/".join(_segment(rng) for _ in range(rng.randint(0, 4))) + rng.choice(["", "/"])
    pairs = [
        (
            "".join(rng.choice(VALUE_CHARS) for _ in range(rng.randint(1, 6))),
            "".join(rng.choice(VALUE_CHARS) for _ in range(rng.randint(0, 6))),
        )
        for _ in range(rng.randint(0, 4))
    ]
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)
    url = f"{scheme}://{host}{port}{path}" + (f"?{query}" if query else "")
    headers = {
        "Content-Type": rng.choice(["application/x-amz-json-1.0", "application/json"]),
        "X-Amz-Target": rng.choice(["DynamoDB_20120810.PutItem", "DynamoDB_20120810.DeleteItem"]),
    }
    for _ in range(rng.randint(0, 3)):
        name = "X-" + "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(1, 8)))
        headers[name] = rng.choice(["  spaced   value ", "a\tb", "plain", "", "x  y  z"])
    if rng.random() < 0.5:
        headers["User-Agent"] = "geminidb-patcher/test"
    body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300))) if rng.random() < 0.8 else b""
    return rng.choice(["POST", "GET", "PUT", "DELETE"]), url, headers, body


def _botocore_headers(
    credentials: AwsCredentials, region: str, service: str, method: str, url: str, headers: dict[str, str],
    body: bytes, now: datetime,
) -> dict[str, str]:  # fmt: skip
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    oracle = SigV4Auth(
        Credentials(credentials.access_key_id, credentials.secret_access_key, credentials.session_token),
        service,
        region,
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=now.replace(tzinfo=None)):
        oracle.add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize("seed", range(300))
def test_the_signature_equals_botocores_for_a_random_request(seed: int) -> None:
    rng = random.Random(seed)
    credentials = AwsCredentials(
        "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
        "".join(rng.choice(string.ascii_letters + string.digits + "/+") for _ in range(40)),
        rng.choice([None, "IQoJb3JpZ2luX2VjE" + "".join(rng.choice(string.ascii_letters) for _ in range(60))]),
    )
    region = rng.choice(["us-east-1", "eu-central-1", "cn-north-1", "ap-southeast-1"])
    service = rng.choice(["dynamodb", "execute-api", "sns"])
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**8))
    method, url, headers, body = _request(rng)

    ours = SigV4Signer(region, service).sign(credentials, method, url, headers, body, now)
    theirs = _botocore_headers(credentials, region, service, method, url, headers, body, now)

    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["X-Amz-Date"] == theirs["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == theirs.get("X-Amz-Security-Token")


def test_a_known_vector_from_the_published_examples() -> None:
    """AWS's documented GET example (IAM ListUsers): the same signature, independent of botocore."""
    credentials = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    signed = SigV4Signer("us-east-1", "iam").sign(
        credentials,
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        b"",
        datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )
    assert signed["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )


def test_the_path_is_normalised_and_encoded_once_more() -> None:
    assert canonical_path("/a/./b/../c//d/") == "/a/c/d/"
    assert canonical_path("/a%20b") == "/a%2520b"
    assert canonical_path("") == "/"


def test_the_host_drops_the_default_port_and_any_user() -> None:
    assert host_header("https://user:pw@DynamoDB.example.com:443/") == "dynamodb.example.com"
    assert host_header("http://127.0.0.1:4566/") == "127.0.0.1:4566"


def test_credentials_never_print_their_secret() -> None:
    credentials = AwsCredentials("AKIAEXAMPLE", "very-secret", "token-secret")
    assert "very-secret" not in repr(credentials) and "token-secret" not in str(credentials)
    assert AwsCredentials.from_environ({"AWS_ACCESS_KEY_ID": "a"}) is None
