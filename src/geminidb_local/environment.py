"""The environment a local run gives the function: the simulator's address and credentials."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Mapping

from geminidb_local.simulator import Simulator
from geminidb_local.simulator.fleet import DEFAULT_REGION
from geminidb_patcher.config.secrets import EnvironmentSecrets
from geminidb_patcher.config.settings import load_settings
from geminidb_patcher.config.wiring import Wiring


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


def simulator_wiring(
    simulator: Simulator, environ: Mapping[str, str], sleep: Callable[[float], None] = time.sleep
) -> Wiring:
    """A wiring whose clock is the simulator's, so windows, bake times and job ages agree with it."""
    return Wiring(
        load_settings(environ),
        EnvironmentSecrets(environ),
        clock=simulator.state.clock.now,
        sleep=sleep,
        environ=environ,
    )


def channel_environment(simulator: Simulator) -> dict[str, str]:
    """Every channel type, pointed at the simulator's vendor-faithful receivers and its SMN topic.

    URLs that embed a key come from ``NOTIFY_*`` secrets, as in production; signing secrets are registered
    with the receivers so they verify like Feishu, DingTalk and a Standard Webhooks receiver would.
    """
    base = f"{simulator.base_url}/_sim/channels"
    project = simulator.fleet.credentials.project_id
    signing = {
        "feishu-ops": secrets.token_hex(16),
        "ding-ops": "SEC" + secrets.token_hex(32),
        "hook": new_webhook_secret(),
    }
    simulator.state.receivers.secrets.update(signing)
    channels = [
        {"name": "slack-ops", "type": "slack", "url_secret": "NOTIFY_SLACK_URL"},
        {"name": "teams-ops", "type": "teams", "url_secret": "NOTIFY_TEAMS_URL"},
        {"name": "feishu-ops", "type": "feishu", "url_secret": "NOTIFY_FEISHU_URL", "secret": "NOTIFY_FEISHU_SECRET"},
        {"name": "ding-ops", "type": "dingtalk", "url_secret": "NOTIFY_DING_URL", "secret": "NOTIFY_DING_SECRET"},
        {"name": "wecom-ops", "type": "wecom", "url_secret": "NOTIFY_WECOM_URL"},
        {
            "name": "smn-ops",
            "type": "smn",
            "topic_urn": f"urn:smn:{DEFAULT_REGION}:{project}:patch-reports",
            "endpoint": simulator.base_url,
        },
        {
            "name": "hook",
            "type": "webhook",
            "url": f"{base}/webhook/hook",
            "secret": "NOTIFY_HOOK_SECRET",
            "notify_on": "always",
        },
    ]
    return {
        "NOTIFY_CHANNELS": json.dumps(channels),
        "NOTIFY_SLACK_URL": f"{base}/slack/slack-ops",
        "NOTIFY_TEAMS_URL": f"{base}/teams/teams-ops?api-version=2016-06-01&sp=%2Ftriggers&sig=teamskey",
        "NOTIFY_FEISHU_URL": f"{base}/feishu/feishu-ops",
        "NOTIFY_FEISHU_SECRET": signing["feishu-ops"],
        "NOTIFY_DING_URL": f"{base}/dingtalk/ding-ops?access_token=dingtoken",
        "NOTIFY_DING_SECRET": signing["ding-ops"],
        "NOTIFY_WECOM_URL": f"{base}/wecom/wecom-ops?key=wecomkey",
        "NOTIFY_HOOK_SECRET": signing["hook"],
    }
