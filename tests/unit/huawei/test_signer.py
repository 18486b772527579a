"""AK/SK signing reproduces Huawei's vectors and agrees with the official SDK signer."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest

from geminidb_patcher.huawei.signer import AkSkSigner, canonical_query, canonical_uri, compute_signature

AK = "QTWAOYTTINDUT2QVKYUC"
SK = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"


def test_signer_public_vector_reproduces_canonical_request_and_signature() -> None:
    # GIVEN the request of Huawei's signing guide
    parts = compute_signature(
        method="GET",
        path="/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
        query=[("limit", "2"), ("marker", "13551d6b-755d-4757-b956-536f674975c0")],
        headers={
            "Content-Type": "application/json",
            "Host": "service.region.example.com",
            "X-Sdk-Date": "20191115T033655Z",
        },
        body=b"",
        secret_key=SK,
    )
    # THEN every intermediate value is the published one
    assert parts.canonical_request == (
        "GET\n/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\n"
        "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0\n"
        "content-type:application/json\nhost:service.region.example.com\nx-sdk-date:20191115T033655Z\n\n"
        "content-type;host;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert parts.string_to_sign.endswith("b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a")
    assert parts.signature == "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"


def test_signer_batch_upgrade_vector_matches_sdk_output() -> None:
    # GIVEN the synthetic db-upgrade vector generated with the SDK
    signer = AkSkSigner(AK, SK)
    headers = signer.sign(
        "POST",
        "https://gaussdb-nosql.ap-southeast-1.myhuaweicloud.com/v3/0123456789abcdef0123456789abcdef/instances/db-upgrade",
        {"Content-Type": "application/json", "X-Project-Id": "0123456789abcdef0123456789abcdef"},
        b'{"instance_ids": ["aaa", "bbb"]}',
        now=datetime(2025, 1, 1, tzinfo=UTC),
    )
    # THEN the Authorization header is byte for byte the SDK's
    assert headers["Authorization"] == (
        "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=2f01f95ed28385b295a5e032e900fc29ed6801f390265b05c7c0ccc11cf35df8"
    )


def test_canonical_forms_encode_star_and_add_trailing_slash() -> None:
    assert canonical_uri("/v3/p/instances") == "/v3/p/instances/"
    assert canonical_uri("/a%20b/c") == "/a%20b/c/"
    assert canonical_query([("name", "*orders"), ("id", "a b/c~")]) == "id=a%20b%2Fc~&name=%2Aorders"


def test_signer_adds_security_token_before_signing() -> None:
    headers = AkSkSigner(AK, SK, security_token="temporary-token").sign(
        "GET",
        "https://h.example.com/v3/p/jobs",
        {"Content-Type": "application/json"},
        b"",
        now=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert headers["X-Security-Token"] == "temporary-token"
    assert "x-security-token" in headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]


_ALPHABET = "abcXYZ019-_.~*!'() /+=&%:@é"


def _text(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(low, high)))


def _random_request(rng: random.Random) -> tuple[str, str, list[tuple[str, str]], dict[str, str], bytes]:
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH"])
    path = "/" + "/".join(quote(_text(rng, 1, 8), safe="") for _ in range(rng.randint(1, 5)))
    query = [(_text(rng, 1, 6), _text(rng, 0, 10)) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.3:
        query.append(("name", "*" + _text(rng, 1, 6)))
    content_type = rng.choice(["application/json", "application/json;charset=utf8", "text/plain", ""])
    headers = {"X-Sdk-Date": "20250607T080910Z"}
    if content_type:
        headers["Content-Type"] = content_type
    if rng.random() < 0.3:
        headers["X-Custom-Header"] = _text(rng, 1, 10).strip() or "v"
    body = b"" if method == "GET" or rng.random() < 0.2 else _text(rng, 0, 60).encode()
    return method, path, query, headers, body


@pytest.mark.parametrize("seed", range(250))
def test_signer_agrees_with_official_sdk_signer_on_random_requests(seed: int) -> None:
    # GIVEN a random request (methods, encoded paths, queries with '*', bodies, content types, tokens)
    rng = random.Random(seed)
    method, path, query, headers, body = _random_request(rng)
    token = "sts-token-value" if rng.random() < 0.3 else None
    project = "0123456789abcdef0123456789abcdef"
    host = "gaussdb-nosql.ap-southeast-1.myhuaweicloud.com"
    # WHEN the SDK signs it
    credentials = BasicCredentials(AK, SK, project)
    if token:
        credentials = credentials.with_security_token(token)
    sdk_request = SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=list(query),
        header_params=dict(headers),
        body=body,
    )
    sdk_authorization = credentials.sign_request(sdk_request).header_params["Authorization"]
    # AND our signer signs the URL our HTTP layer would send
    url = f"https://{host}{path}" + (f"?{canonical_query(query)}" if query else "")
    ours = AkSkSigner(AK, SK, token).sign(
        method, url, {**headers, "X-Project-Id": project}, body, now=datetime(2025, 6, 7, 8, 9, 10, tzinfo=UTC)
    )
    # THEN both produce the same Authorization header
    assert ours["Authorization"] == sdk_authorization
