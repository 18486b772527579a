"""The composition root (the wiring): settings, one HTTP session, secrets, clients and the patcher, built once."""

from __future__ import annotations

import functools
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from aws_lambda_powertools.metrics import MetricUnit

from geminidb_patcher.aws.dynamodb import DynamoDB
from geminidb_patcher.aws.lease_table import DynamoLeaseStore
from geminidb_patcher.aws.sigv4 import AwsCredentials
from geminidb_patcher.config.secrets import EnvironmentSecrets, ExtensionSecrets, SecretSource
from geminidb_patcher.config.settings import Settings, load_settings
from geminidb_patcher.contract.request import Target
from geminidb_patcher.contract.secret_values import SecretValues
from geminidb_patcher.errors import ConfigError, ConfigurationError
from geminidb_patcher.huawei.auth import (
    AkSkAuth,
    Authenticator,
    IamTokenAuth,
    IssuedToken,
    StaticTokenAuth,
    agency_token_body,
    password_token_body,
)
from geminidb_patcher.huawei.client import GeminiDBClient, issue_iam_token
from geminidb_patcher.huawei.endpoints import (
    GEMINIDB_REGIONS,
    IAM_GLOBAL_ENDPOINT,
    ROLE_API_ENGINES,
    geminidb_endpoint,
    iam_endpoint,
    patchable_engines,
)
from geminidb_patcher.huawei.http import JsonHttp, Timeouts
from geminidb_patcher.huawei.projects import list_auth_projects
from geminidb_patcher.huawei.signer import AkSkSigner
from geminidb_patcher.notify.base import Sender
from geminidb_patcher.notify.config import ChannelConfigError, parse_channels
from geminidb_patcher.notify.dispatch import Notifier
from geminidb_patcher.notify.factory import ChannelTools, build_channels
from geminidb_patcher.reconcile.act import ActSettings, BatchRecord
from geminidb_patcher.reconcile.observe import SiteRules
from geminidb_patcher.run.approval import ApprovalIssuer
from geminidb_patcher.run.discovery import Discovery
from geminidb_patcher.run.events import LogEvents, WithProgress
from geminidb_patcher.run.lease import LeasePolicy, LeaseStore
from geminidb_patcher.run.patcher import Patcher, RequestLimits
from geminidb_patcher.run.publish import Publisher
from geminidb_patcher.telemetry import logger, metrics, redactor
from geminidb_patcher.transport import Deadline, watched_session

TOKEN_DEFAULT_LIFETIME = timedelta(hours=1)


NO_CREDENTIALS = "no Huawei credentials: set an AK/SK pair, an IAM user, or a token (see the README)"


class CredentialsMissingError(ConfigurationError):
    """No usable Huawei credentials are configured."""


ENVIRONMENT_SETTINGS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC")


def http_session(environ: Mapping[str, str]) -> requests.Session:
    """One session for every call; it reads the environment's proxy, CA and netrc settings once, here.

    ``requests`` otherwise looks them up on every request (proxies, ``no_proxy``, ``~/.netrc``), a large share of
    the function's CPU on a big fleet. When any such setting exists the session keeps requests' own handling.
    """
    session = watched_session()
    configured = bool(urllib.request.getproxies()) or any(environ.get(name) for name in ENVIRONMENT_SETTINGS)
    if not configured and not (Path.home() / ".netrc").exists():
        session.trust_env = False
    return session


HEADER_SECRETS = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SECURITY_TOKEN", "HUAWEICLOUD_AUTH_TOKEN")
"""Secrets sent in a header as they are: a control character in one would break or split the request."""


def _header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable() and " " not in value


def remembered(token: IssuedToken) -> IssuedToken:
    """``token``, taught to the redactor first: an upstream answer that echoes it never shows it."""
    redactor.remember([token.value])
    return token


def remember_capability(token: str) -> None:
    """Keep an approval token out of every log line, as a secret is."""
    redactor.remember([token])


def utc_now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def secret_source(settings: Settings, environ: Mapping[str, str], session: requests.Session) -> SecretSource:
    """The extension when a secret is configured (Lambda), the environment otherwise."""
    if settings.secret_id:
        return ExtensionSecrets(settings.secret_id, environ, session)
    return EnvironmentSecrets(environ)


class Wiring:
    """Long-lived objects of one container; per-run objects are made from them on demand."""

    def __init__(
        self,
        settings: Settings,
        secrets: SecretSource,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.settings = settings
        self._environ = environ
        """Where Lambda's AWS credentials are read, on every call to the lease table (``os.environ`` on Lambda)."""
        self.secrets = secrets
        self.session = session or http_session(os.environ)
        self.clock = clock
        self._sleep = sleep
        self.deadline = Deadline()
        """The current run's deadline: every outbound call and pause of the run fits it."""
        # signatures carry real time whatever the planning clock says (a simulator's clock may run ahead)
        self.http = JsonHttp(
            self.session,
            Timeouts(settings.connect_timeout, settings.read_timeout),
            utc_now,
            max_in_flight=settings.submit_concurrency,
            deadline=self.deadline,
        )
        self.lease_store = self._lease_store(settings)
        """The apply lease and the webhook IDs (``PATCHER_LOCK_TABLE``); ``None`` when not configured."""
        self._auth_cache: dict[Target | None, Authenticator] = {}
        self._auth_values: SecretValues | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Wiring:
        """Validate the environment and wire everything from it."""
        settings = load_settings(environ)
        session = http_session(environ)
        return cls(settings, secret_source(settings, environ, session), session=session, environ=environ)

    def _lease_store(self, settings: Settings) -> LeaseStore | None:
        lock = settings.lock
        if lock is None:
            return None

        def credentials() -> AwsCredentials | None:
            """Lambda's role credentials, read on every call, each also taught to the log redactor."""
            found = AwsCredentials.from_environ(self._environ)
            if found is not None:
                redactor.remember([found.secret_access_key, found.session_token or ""])
            return found

        table = DynamoDB(self.session, lock.endpoint, lock.region, lock.table, credentials, self.deadline)
        return DynamoLeaseStore(table)

    def _authenticator(self, target: Target | None, values: SecretValues) -> Authenticator:
        """AK/SK if configured, else an IAM user (optionally assuming an agency), else a static token."""
        with self._lock:
            if values != self._auth_values:  # rotated secrets invalidate every cached token
                self._auth_cache.clear()
                self._auth_values = values
            auth = self._auth_cache.get(target)
            if auth is None:
                auth = self._auth_cache[target] = self._new_authenticator(target, values)
            return auth

    def _new_authenticator(self, target: Target | None, values: SecretValues) -> Authenticator:
        """For ``target``'s project, or for the whole account (``None``: listing its projects; for an agency, the
        delegating account's)."""
        for name in HEADER_SECRETS:
            value = getattr(values, name.lower())
            if value and not _header_safe(value):
                raise ConfigError(f"{name} holds a character an HTTP header cannot carry (a newline or a space?)")
        if values.huaweicloud_sdk_ak and values.huaweicloud_sdk_sk:
            signer = AkSkSigner(
                values.huaweicloud_sdk_ak, values.huaweicloud_sdk_sk, values.huaweicloud_sdk_security_token
            )
            return AkSkAuth(signer, target.project_id if target else None)
        if values.huaweicloud_iam_user and values.huaweicloud_iam_password and values.huaweicloud_iam_domain:
            iam = self._iam(target)
            user = values.huaweicloud_iam_user
            password = values.huaweicloud_iam_password
            domain = values.huaweicloud_iam_domain
            agency = (values.huaweicloud_iam_agency_domain_id, values.huaweicloud_iam_agency_name)

            def issue() -> IssuedToken:
                expiry = self.clock() + TOKEN_DEFAULT_LIFETIME
                whole: dict[str, Any] = {"whole_account": True}
                if not (agency[0] and agency[1]):
                    scope = {"project_id": target.project_id} if target else whole
                    body = password_token_body(user=user, password=password, domain=domain, **scope)
                    return remembered(issue_iam_token(self.http, iam, body, expires_default=expiry))
                # the delegate's own token: IAM scopes a user's token to a project of the user's own account
                own_scope = {"region": target.region} if target else whole
                own = password_token_body(user=user, password=password, domain=domain, **own_scope)
                token = remembered(issue_iam_token(self.http, iam, own, expires_default=expiry))
                assumed = agency_token_body(
                    domain_id=agency[0], agency_name=agency[1], project_id=target.project_id if target else None
                )
                return remembered(
                    issue_iam_token(
                        self.http, iam, assumed, expires_default=expiry, delegate=StaticTokenAuth(token.value)
                    )
                )

            return IamTokenAuth(issue, self.clock)
        if values.huaweicloud_auth_token:
            return StaticTokenAuth(values.huaweicloud_auth_token)
        raise CredentialsMissingError(NO_CREDENTIALS)

    def _iam(self, target: Target | None) -> str:
        """IAM for ``target``'s region; for the whole account, the default target's region's, else the global one."""
        chosen = target or self.settings.default_target
        return self.settings.iam_endpoint_override or (iam_endpoint(chosen.region) if chosen else IAM_GLOBAL_ENDPOINT)

    def discovery(self) -> Discovery:
        """``targets: "all"``: IAM's project list with the current credentials, scoped to the whole account (for an
        agency, the delegating account's), and the regions with a GeminiDB endpoint (or one configured)."""
        return Discovery(
            list_projects=lambda: list_auth_projects(
                self.http, self._iam(None), self._authenticator(None, self.secret_values())
            ),
            has_geminidb=lambda region: region in GEMINIDB_REGIONS or region in self.settings.region_endpoints,
        )

    def secret_values(self) -> SecretValues:
        """The current secrets, each also taught to the log redactor."""
        values = self.secrets.get()
        redactor.remember(values.all_values())
        return values

    def webhook_secrets(self) -> list[str]:
        """The well-formed webhook secrets; a malformed one is logged by position (never its value) and skipped."""
        values = self.secret_values()
        malformed, configured = values.malformed_webhook_secrets()
        if malformed:
            logger.error(
                "webhook_secret_invalid",
                extra={
                    "positions": malformed,
                    "configured": configured,
                    "problem": "not 'whsec_' followed by base64; requests signed with it are refused",
                },
            )
            metrics.add_metric(name="ConfigurationErrors", unit=MetricUnit.Count, value=1)
        return values.webhook_secrets()

    def client(self, target: Target, time_left: Callable[[], float] | None = None) -> GeminiDBClient:
        """A client for ``target`` with the current secrets; ``time_left`` (seconds) bounds every call."""
        values = self.secret_values()
        return GeminiDBClient(
            http=self.http,
            endpoint=self.settings.region_endpoints.get(target.region)
            or self.settings.endpoint_override
            or geminidb_endpoint(target.region),
            project_id=target.project_id,
            auth=self._authenticator(target, values),
            sleep=self._sleep,
            page_concurrency=self.settings.submit_concurrency,
            time_left=time_left,
        )

    def notifier(self, values: SecretValues) -> Notifier:
        """The configured channels (environment, then the Lambda secret's ``NOTIFY_CHANNELS``) behind one notifier."""
        configs = list(self.settings.channels)
        problems: list[tuple[str, str]] = []
        if values.notify_channels and self.settings.secret_id:  # locally the environment is the secret: read once
            try:
                configs += parse_channels(values.notify_channels, "the secret's NOTIFY_CHANNELS")
            except ChannelConfigError as error:
                problems.append(("NOTIFY_CHANNELS", str(error)))
        tools = ChannelTools(
            sender=Sender(self.session, sleep=self._sleep, deadline=self.deadline),
            http=self.http,
            auth_for=lambda target: self._authenticator(target, values),
            clock=time.time,
        )
        channels, invalid = build_channels(configs, values, tools)
        seen: set[str] = set()
        unique = []
        for channel in channels:
            if channel.name in seen:
                invalid.append((channel.name, "a second channel with this name is ignored"))
                continue
            seen.add(channel.name)
            unique.append(channel)
        for name, problem in problems + invalid:
            logger.error("notification_channel_invalid", extra={"channel": name, "problem": problem})
            metrics.add_metric(name="NotificationFailures", unit=MetricUnit.Count, value=1)
        return Notifier(unique, all_failed_fails_run=self.settings.notify_failure_fails_run)

    def approvals(self, base_url: str | None = None) -> ApprovalIssuer | None:
        """Who mints approval links under ``base_url`` (default ``WEBHOOK_API_URL``); ``None`` when there is none."""
        base = base_url or self.settings.webhook_api_url
        return None if base is None else self.approval_issuer(base)

    def approval_issuer(self, base_url: str = "") -> ApprovalIssuer:
        """An issuer with the current approval keys and ``APPROVAL_TTL``; every token it mints is taught to the
        redactor."""
        return ApprovalIssuer(
            keys=self.approval_keys,
            base_url=base_url,
            ttl=self.settings.approval_ttl,
            remember=remember_capability,
        )

    def approval_keys(self) -> list[bytes]:
        """The current approval keys (none: approval links are refused)."""
        return self.secret_values().approval_keys()

    def patcher(
        self, on_batch: Callable[[BatchRecord], None] | None = None, approval_base_url: str | None = None
    ) -> Patcher:
        """A patcher wired to the current secrets; ``on_batch`` hears of every batch call (the CLI's progress);
        approval links go under ``approval_base_url`` (default ``WEBHOOK_API_URL``)."""
        notifier = self.notifier(self.secret_values())
        return Patcher(
            clients=self.client,
            default_target=self.settings.default_target,
            act_settings=ActSettings(self.settings.submit_concurrency, self.settings.deadline_margin_ms),
            events=WithProgress(logger, metrics, on_batch) if on_batch else LogEvents(logger, metrics),
            publisher=Publisher(notifier, logger, metrics),
            channel_names=notifier.names,
            limits=RequestLimits(self.settings.max_instance_ids, self.settings.max_targets),
            clock=self.clock,
            blackouts=self.settings.blackouts,
            sleep=self._sleep,
            deadline=self.deadline,
            scrub=redactor.text,
            lease_store=self.lease_store,
            lease_policy=LeasePolicy(self.settings.lock.term_seconds, self.settings.lock.wait_seconds)
            if self.settings.lock
            else LeasePolicy(),
            approvals=self.approvals(approval_base_url),
            discovery=self.discovery(),
            discover_by_default=self.settings.discover_targets,
            site_rules=SiteRules(
                dr_role_tag=self.settings.dr_role_tag,
                role_api_engines=ROLE_API_ENGINES,
                site_engines=functools.partial(patchable_engines, overrides=self.settings.patch_engines),
            ),
        )
