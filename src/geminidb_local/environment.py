"""The environment a local run gives the function: the simulator's address and credentials."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping

from geminidb_local.simulator import Simulator
from geminidb_local.simulator.fleet import DEFAULT_REGION
from geminidb_patcher.runtime import Runtime
from geminidb_patcher.secrets import EnvironmentSecrets
from geminidb_patcher.settings import load_settings


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def simulator_environment(simulator: Simulator, *, webhook_secret: str, notify_channel: str = "ops") -> dict[str, str]:
    """Variables that point the function at a running simulator, with its notification inbox."""
    credentials = simulator.fleet.credentials
    return {
        "HUAWEICLOUD_REGION": DEFAULT_REGION,
        "HUAWEICLOUD_SDK_PROJECT_ID": credentials.project_id,
        "HUAWEICLOUD_SDK_AK": credentials.ak,
        "HUAWEICLOUD_SDK_SK": credentials.sk,
        "GEMINIDB_ENDPOINT": simulator.base_url,
        "HUAWEICLOUD_SDK_IAM_ENDPOINT": simulator.base_url,
        "WEBHOOK_SECRET": webhook_secret,
        "NOTIFY_WEBHOOK_URL": f"{simulator.base_url}/_sim/inbox/{notify_channel}",
        "NOTIFY_WEBHOOK_SECRET": new_webhook_secret(),
    }


def simulator_runtime(simulator: Simulator, environ: Mapping[str, str]) -> Runtime:
    """A runtime whose clock is the simulator's, so windows, bake times and job ages agree with it."""
    return Runtime(load_settings(environ), EnvironmentSecrets(environ), clock=simulator.state.clock.now)
