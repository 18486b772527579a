"""Strict checks of JSON against the official SDK's model classes, and SDK clients wired to the simulator.

The SDK's own deserialiser accepts anything (unknown keys are dropped, types are not checked), so parsing a
response with it proves little. ``problems`` walks a document against a model's ``openapi_types`` and
``attribute_map`` instead: every key must be one the model declares, every value of the declared type.
"""

from __future__ import annotations

import json
import re
from types import ModuleType
from typing import Any

from huaweicloudsdkcore.auth.credentials import BasicCredentials, GlobalCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkgaussdbfornosql.v3 import GaussDBforNoSQLClient
from huaweicloudsdkgaussdbfornosql.v3 import model as nosql_model
from huaweicloudsdkiam.v3 import IamClient
from huaweicloudsdkiam.v3 import model as iam_model
from huaweicloudsdksmn.v2 import SmnClient
from huaweicloudsdksmn.v2 import model as smn_model

from geminidb_local.simulator import Simulator

MODELS = {"nosql": nosql_model, "iam": iam_model, "smn": smn_model}
_LIST = re.compile(r"^list\[(.+)\]$")
_DICT = re.compile(r"^dict\(str, (.+)\)$")
_PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "object": (object,),
}


def problems(document: Any, type_name: str, module: ModuleType, path: str = "$") -> list[str]:
    """Every way ``document`` departs from the SDK type ``type_name`` (a model class name or a primitive)."""
    if document is None:
        return []
    if type_name in _PRIMITIVES:
        expected = _PRIMITIVES[type_name]
        wrong = not isinstance(document, expected) or (isinstance(document, bool) and bool not in expected)
        return [f"{path}: {type(document).__name__} where the SDK declares {type_name}"] if wrong else []
    if match := _LIST.match(type_name):
        if not isinstance(document, list):
            return [f"{path}: {type(document).__name__} where the SDK declares {type_name}"]
        return [p for i, item in enumerate(document) for p in problems(item, match[1], module, f"{path}[{i}]")]
    if match := _DICT.match(type_name):
        if not isinstance(document, dict):
            return [f"{path}: {type(document).__name__} where the SDK declares {type_name}"]
        return [p for key, item in document.items() for p in problems(item, match[1], module, f"{path}.{key}")]
    model = getattr(module, type_name)
    if not isinstance(document, dict):
        return [f"{path}: {type(document).__name__} where the SDK declares {type_name}"]
    by_wire_name = {wire: attr for attr, wire in model.attribute_map.items()}
    found: list[str] = []
    for key, value in document.items():
        attr = by_wire_name.get(key)
        if attr is None:
            found.append(f"{path}.{key}: not a field of {type_name}")
            continue
        found += problems(value, model.openapi_types[attr], module, f"{path}.{key}")
    return found


def response_problems(response: Any, module: ModuleType = nosql_model) -> list[str]:
    """``problems`` of an SDK response's raw JSON body against the response's own model class."""
    body = json.loads(response.raw_content or b"{}")
    return problems(body, type(response).__name__, module)


def query_names(http_info: dict[str, Any]) -> set[str]:
    """The query parameter names an SDK ``_…_http_info`` would send."""
    return {name for name, _ in http_info["query_params"]}


def _config() -> HttpConfig:
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    config.timeout = (2, 10)
    return config


def nosql_client(simulator: Simulator) -> Any:
    """The official GeminiDB client, signing with the simulator's AK/SK, pointed at the simulator."""
    credentials = simulator.fleet.credentials
    return (
        GaussDBforNoSQLClient.new_builder()
        .with_http_config(_config())
        .with_credentials(BasicCredentials(credentials.ak, credentials.sk, credentials.project_id))
        .with_endpoints([simulator.base_url])
        .build()
    )


def smn_client(simulator: Simulator) -> Any:
    """The official SMN client, pointed at the simulator."""
    credentials = simulator.fleet.credentials
    return (
        SmnClient.new_builder()
        .with_http_config(_config())
        .with_credentials(BasicCredentials(credentials.ak, credentials.sk, credentials.project_id))
        .with_endpoints([simulator.base_url])
        .build()
    )


def iam_client(simulator: Simulator, token: str | None = None) -> Any:
    """The official IAM client; with ``token`` it authenticates as that token (as an agency's delegate must)."""
    credentials = simulator.fleet.credentials
    handler = HttpHandler()
    if token is not None:

        def use_token(**kwargs: Any) -> None:
            headers = kwargs["request"].header_params
            headers.pop("Authorization", None)
            headers["X-Auth-Token"] = token

        handler.add_request_handler(use_token)
    return (
        IamClient.new_builder()
        .with_http_config(_config())
        .with_credentials(GlobalCredentials(credentials.ak, credentials.sk, "0" * 32))
        .with_endpoints([simulator.base_url])
        .with_http_handler(handler)
        .build()
    )
