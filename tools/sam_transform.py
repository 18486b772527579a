"""Transform template.yaml with aws-sam-translator, offline, and check the result; run in its own tool env.

``uv tool run --from aws-sam-translator==1.115.0 --with pyyaml python tools/sam_transform.py template.yaml``
(it pins pydantic and pulls boto3, so it never shares the project's environment).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cfn_yaml import load_template
from samtranslator.translator.transform import transform

EXPECTED_TYPES = {
    "AWS::Lambda::Function": 2,
    "AWS::Scheduler::Schedule": 1,
    "AWS::ApiGatewayV2::Api": 1,
    "AWS::CloudWatch::Alarm": 11,
    "AWS::CloudWatch::Dashboard": 1,
    "AWS::SQS::Queue": 1,
}


class _NoManagedPolicies:
    """The translator looks up AWS managed policies by name; this template names none."""

    def load(self) -> dict[str, str]:
        return {}


def main(path: str) -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-southeast-1")
    template = load_template(Path(path))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://example-bucket/geminidb-patcher.zip"
    globals_function = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_function:
        globals_function["CodeUri"] = "s3://example-bucket/geminidb-patcher.zip"
    for parameter in ("HuaweiProjectId", "SecretArn", "SecretsExtensionLayerArn"):
        template["Parameters"][parameter].setdefault("Default", "")
    output = transform(template, {}, _NoManagedPolicies())
    types: dict[str, int] = {}
    for resource in output["Resources"].values():
        types[resource["Type"]] = types.get(resource["Type"], 0) + 1
    missing = {t: n for t, n in EXPECTED_TYPES.items() if types.get(t, 0) < n}
    print(f"transformed {path}: {len(output['Resources'])} resources; " + json.dumps(dict(sorted(types.items()))))
    if missing:
        print(f"missing resources: {missing}", file=sys.stderr)
        return 1
    schedules = [r for r in output["Resources"].values() if r["Type"] == "AWS::Scheduler::Schedule"]
    if any("Name" in schedule["Properties"] for schedule in schedules):
        print("a schedule has a fixed name: two stacks in one account and region would collide", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
