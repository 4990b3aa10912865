"""Settings: one TOML file plus environment overrides, validated before anything starts.

Key references: a key is written inline, as "env:NAME" (read from the environment) or as
"file:/path" (read from a file, surrounding white space stripped). Messages never show a key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema
from marshmallow.experimental.context import Context

from receiver.destinations import destination_problem, secret_problem
from receiver.secret import Secret
from receiver.signature import SignType, TimeWindow

CONFIG_ENV = "RECEIVER_CONFIG"
DEFAULT_PATH = "/callbacks/huawei-live"
_KEY_FORM = re.compile(r"[A-Za-z0-9]{32,}")

# Environment variable -> (section, option, type): applied over the file before validation.
ENV_OVERRIDES: dict[str, tuple[str, str, type]] = {
    "RECEIVER_REDIS_URL": ("redis", "url", str),
    "RECEIVER_REDIS_NAMESPACE": ("redis", "namespace", str),
    "RECEIVER_LEEWAY_SECONDS": ("signature", "leeway_seconds", int),
    "RECEIVER_MAX_VALIDITY_SECONDS": ("signature", "max_validity_seconds", int),
    "RECEIVER_MAX_BODY_BYTES": ("http", "max_body_bytes", int),
    "RECEIVER_TRUSTED_PROXIES": ("http", "trusted_proxies", int),
    "RECEIVER_REQUIRE_DURABLE_REDIS": ("redis", "require_durable", bool),
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(Exception):
    """The configuration cannot be used; the message names every problem found."""


@dataclass(frozen=True, slots=True)
class CallbackConfig:
    """How callbacks of one (publish_domain, app) are signed; app may be "*"."""

    publish_domain: str
    app: str
    sign_type: SignType
    keys: tuple[Secret, ...]
    events: frozenset[str] | None = None

    @property
    def label(self) -> str:
        """The config's name in messages and logs."""
        return f"{self.publish_domain}/{self.app}"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Where callbacks arrive and how large they may be."""

    paths: tuple[str, ...] = (DEFAULT_PATH,)
    max_body_bytes: int = 64 * 1024
    max_depth: int = 32
    trusted_proxies: int = 0


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """The Redis that holds replay claims and the event stream."""

    url: str | None = None
    namespace: str = "hwlive"
    socket_timeout_seconds: float = 1.0
    connect_timeout_seconds: float = 0.5
    retry_after_seconds: int = 5
    require_durable: bool = False
    remember_days: int = 30


class HandlerKind(StrEnum):
    """Where a handler delivers events."""

    HTTP = "http"
    PYTHON = "python"
    STREAM = "stream"


@dataclass(frozen=True, slots=True)
class HandlerConfig:
    """One downstream handler and the events routed to it."""

    name: str
    kind: HandlerKind
    events: frozenset[str] | None = None
    publish_domain: str | None = None
    app: str | None = None
    url: str | None = None
    secret: Secret | None = None
    target: str | None = None
    stream: str | None = None
    connect_timeout_seconds: float = 3.0
    timeout_seconds: float = 10.0
    max_response_bytes: int = 64 * 1024
    allow_link_local: bool = False

    def wants(self, event: Mapping[str, Any]) -> bool:
        """Whether this handler is routed the event."""
        return (
            (self.events is None or event.get("type") in self.events)
            and (self.publish_domain is None or event.get("publish_domain") == self.publish_domain)
            and (self.app is None or event.get("app") == self.app)
        )


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How the worker delivers events: retries, leases, retention, concurrency."""

    group: str = "delivery"
    max_attempts: int = 10
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 600.0
    lease_seconds: float = 60.0
    claim_idle_seconds: float = 60.0
    retention_seconds: int = 7 * 86_400
    concurrency: int = 8


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the receiver is configured with."""

    callbacks: tuple[CallbackConfig, ...]
    http: HttpSettings = field(default_factory=HttpSettings)
    window: TimeWindow = field(default_factory=lambda: TimeWindow(300, 86_400))
    redis: RedisSettings = field(default_factory=RedisSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    handlers: tuple[HandlerConfig, ...] = ()


def resolve_reference(reference: str, environ: Mapping[str, str]) -> str:
    if reference.startswith("env:"):
        name = reference[4:]
        if name not in environ:
            raise ValidationError(f"environment variable {name} is not set")
        return environ[name].strip()
    if reference.startswith("file:"):
        path = Path(reference[5:])
        try:
            return path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(
                f"key file {path} cannot be read ({type(exc).__name__})"
            ) from None
    return reference


class _CallbackSchema(Schema):
    publish_domain = fields.String(required=True, validate=validate.Length(min=1, max=253))
    app = fields.String(required=True, validate=validate.Length(min=1, max=256))
    sign_type = fields.Enum(SignType, by_value=True, load_default=SignType.HMACSHA256)
    keys = fields.List(fields.String(), load_default=list)
    events = fields.List(fields.String(validate=validate.Length(min=1)), load_default=None)

    @post_load
    def _build(self, data: dict[str, Any], **_: Any) -> CallbackConfig:
        environ: Mapping[str, str] = Context.get()
        sign_type: SignType = data["sign_type"]
        label = f"{data['publish_domain']}/{data['app']}"
        if sign_type is SignType.NONE and data["keys"]:
            raise ValidationError(f"{label}: sign_type NONE takes no keys", "keys")
        if sign_type is not SignType.NONE and not data["keys"]:
            raise ValidationError(
                f'{label}: at least one key is required (set sign_type = "NONE" to accept '
                "unsigned callbacks)",
                "keys",
            )
        keys = []
        for number, reference in enumerate(data["keys"], start=1):
            try:
                key = resolve_reference(reference, environ)
            except ValidationError as exc:
                raise ValidationError(f"{label}: key {number}: {exc.messages[0]}", "keys") from None
            if not _KEY_FORM.fullmatch(key):
                raise ValidationError(
                    f"{label}: key {number} must be at least 32 letters or digits "
                    f"(it has {len(key)} characters)",
                    "keys",
                )
            keys.append(Secret(key))
        events = data["events"]
        return CallbackConfig(
            publish_domain=data["publish_domain"].lower(),
            app=data["app"],
            sign_type=sign_type,
            keys=tuple(keys),
            events=frozenset(events) if events is not None else None,
        )


class _HttpSchema(Schema):
    paths = fields.List(
        fields.String(validate=validate.Regexp(r"^/[^\s?#]*$", error="must start with /")),
        load_default=lambda: [DEFAULT_PATH],
        validate=validate.Length(min=1),
    )
    max_body_bytes = fields.Integer(load_default=64 * 1024, validate=validate.Range(1024, 16 << 20))
    max_depth = fields.Integer(load_default=32, validate=validate.Range(2, 256))
    trusted_proxies = fields.Integer(load_default=0, validate=validate.Range(0, 5))

    @post_load
    def _build(self, data: dict[str, Any], **_: Any) -> HttpSettings:
        if len(set(data["paths"])) != len(data["paths"]):
            raise ValidationError("a path is listed twice", "paths")
        return HttpSettings(**{**data, "paths": tuple(data["paths"])})


class _SignatureSchema(Schema):
    leeway_seconds = fields.Integer(load_default=300, validate=validate.Range(0, 3600))
    max_validity_seconds = fields.Integer(
        load_default=86_400, validate=validate.Range(60, 30 * 86_400)
    )

    @post_load
    def _build(self, data: dict[str, Any], **_: Any) -> TimeWindow:
        return TimeWindow(data["leeway_seconds"], data["max_validity_seconds"])


class _RedisSchema(Schema):
    url = fields.String(
        load_default=None,
        validate=validate.Regexp(
            r"^(redis|rediss|unix)://", error="must be a redis://, rediss:// or unix:// URL"
        ),
    )
    namespace = fields.String(
        load_default="hwlive", validate=validate.Regexp(r"^[A-Za-z0-9_.:-]{1,64}$")
    )
    socket_timeout_seconds = fields.Float(load_default=1.0, validate=validate.Range(0.01, 30))
    connect_timeout_seconds = fields.Float(load_default=0.5, validate=validate.Range(0.01, 30))
    retry_after_seconds = fields.Integer(load_default=5, validate=validate.Range(1, 3600))
    require_durable = fields.Boolean(load_default=False)
    remember_days = fields.Integer(load_default=30, validate=validate.Range(1, 3650))

    @post_load
    def _build(self, data: dict[str, Any], **_: Any) -> RedisSettings:
        return RedisSettings(**data)


class _DeliverySchema(Schema):
    group = fields.String(
        load_default="delivery", validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,64}$")
    )
    max_attempts = fields.Integer(load_default=10, validate=validate.Range(1, 100))
    backoff_base_seconds = fields.Float(load_default=1.0, validate=validate.Range(0.001, 3600))
    backoff_max_seconds = fields.Float(load_default=600.0, validate=validate.Range(0.001, 86_400))
    lease_seconds = fields.Float(load_default=60.0, validate=validate.Range(1, 3600))
    claim_idle_seconds = fields.Float(load_default=60.0, validate=validate.Range(1, 86_400))
    retention_seconds = fields.Integer(load_default=7 * 86_400, validate=validate.Range(0, 10**8))
    concurrency = fields.Integer(load_default=8, validate=validate.Range(1, 256))

    @post_load
    def _build(self, data: dict[str, Any], **_: Any) -> DeliverySettings:
        return DeliverySettings(**data)


class _HandlerSchema(Schema):
    name = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,64}$"))
    kind = fields.Enum(HandlerKind, by_value=True, required=True)
    events = fields.List(fields.String(validate=validate.Length(min=1)), load_default=None)
    publish_domain = fields.String(load_default=None)
    app = fields.String(load_default=None)
    url = fields.String(load_default=None)
    secret = fields.String(load_default=None)
    target = fields.String(
        load_default=None,
        validate=validate.Regexp(
            r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", error="must be module:function"
        ),
    )
    stream = fields.String(load_default=None, validate=validate.Length(min=1, max=256))
    connect_timeout_seconds = fields.Float(load_default=3.0, validate=validate.Range(0.01, 60))
    timeout_seconds = fields.Float(load_default=10.0, validate=validate.Range(0.01, 300))
    max_response_bytes = fields.Integer(
        load_default=64 * 1024, validate=validate.Range(0, 16 << 20)
    )
    allow_link_local = fields.Boolean(load_default=False)

    @post_load
    def _build(self, data: dict[str, Any], **_: Any) -> HandlerConfig:
        kind: HandlerKind = data["kind"]
        required = {
            HandlerKind.HTTP: ("url", "secret"),
            HandlerKind.PYTHON: ("target",),
            HandlerKind.STREAM: ("stream",),
        }[kind]
        for option in required:
            if data[option] is None:
                raise ValidationError(
                    f"{data['name']}: a {kind.value} handler needs {option}", option
                )
        secret = None
        if data["secret"] is not None:
            try:
                secret = Secret(resolve_reference(data["secret"], Context.get()))
            except ValidationError as exc:
                raise ValidationError(
                    f"{data['name']}: secret: {exc.messages[0]}", "secret"
                ) from None
        events = data["events"]
        config = HandlerConfig(
            **{
                **data,
                "secret": secret,
                "events": None if events is None or "*" in events else frozenset(events),
                "publish_domain": data["publish_domain"].lower()
                if data["publish_domain"]
                else None,
            }
        )
        problem = None
        if config.url is not None:
            problem = destination_problem(config.url, allow_link_local=config.allow_link_local)
        if problem is None and secret is not None:
            problem = secret_problem(secret.reveal())
        if problem:
            raise ValidationError(f"{config.name}: {problem}", "url" if config.url else "secret")
        return config


class _SettingsSchema(Schema):
    callbacks = fields.List(fields.Nested(_CallbackSchema), required=True)
    http = fields.Nested(_HttpSchema, load_default=lambda: HttpSettings())
    signature = fields.Nested(_SignatureSchema, load_default=lambda: TimeWindow(300, 86_400))
    redis = fields.Nested(_RedisSchema, load_default=lambda: RedisSettings())
    delivery = fields.Nested(_DeliverySchema, load_default=lambda: DeliverySettings())
    handlers = fields.List(fields.Nested(_HandlerSchema), load_default=list)

    @validates_schema(skip_on_field_errors=True)
    def _unique_configs(self, data: dict[str, Any], **_: Any) -> None:
        seen: set[tuple[str, str]] = set()
        for config in data["callbacks"]:
            identity = (config.publish_domain, config.app)
            if identity in seen:
                raise ValidationError(f"{config.label} is configured twice", "callbacks")
            seen.add(identity)
        names = [handler.name for handler in data["handlers"]]
        if len(names) != len(set(names)):
            raise ValidationError("two handlers share a name", "handlers")

    @post_load
    def _build(self, data: dict[str, Any], **_: Any) -> Settings:
        return Settings(
            callbacks=tuple(data["callbacks"]),
            http=data["http"],
            window=data["signature"],
            redis=data["redis"],
            delivery=data["delivery"],
            handlers=tuple(data["handlers"]),
        )


def _flatten(messages: object, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        out: list[str] = []
        for name, inner in messages.items():
            where = f"{prefix}[{name}]" if isinstance(name, int) else f"{prefix}.{name}".lstrip(".")
            out.extend(_flatten(inner, where))
        return out
    if isinstance(messages, list):
        return [line for item in messages for line in _flatten(item, prefix)]
    return [f"{prefix}: {messages}" if prefix else str(messages)]


def _parse_override(text: str, kind: type) -> object:
    if kind is bool:
        if text.strip().lower() not in _TRUE | _FALSE:
            raise ValueError(text)
        return text.strip().lower() in _TRUE
    return kind(text)


def _apply_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    merged = {
        name: dict(value) if isinstance(value, dict) else value for name, value in raw.items()
    }
    for variable, (section, option, kind) in ENV_OVERRIDES.items():
        if variable not in environ:
            continue
        try:
            value = _parse_override(environ[variable], kind)
        except ValueError:
            raise ConfigError(f"{variable} must be {kind.__name__}") from None
        target = merged.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"[{section}] must be a table")
        target[option] = value
    return merged


def parse_settings(raw: Mapping[str, Any], environ: Mapping[str, str]) -> Settings:
    """Validate a parsed configuration document, applying environment overrides."""
    merged = _apply_overrides(dict(raw), environ)
    try:
        with Context(environ):
            return _SettingsSchema().load(merged)
    except ValidationError as exc:
        raise ConfigError("; ".join(_flatten(exc.messages))) from None


def load_settings(path: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Settings:
    """Read and validate the TOML file at path (or named by RECEIVER_CONFIG)."""
    chosen = path or environ.get(CONFIG_ENV)
    if not chosen:
        raise ConfigError(f"no configuration file: pass --config or set {CONFIG_ENV}")
    try:
        with open(chosen, "rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read {chosen}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{chosen} is not valid TOML: {exc}") from None
    return parse_settings(raw, environ)
