"""Huawei Cloud Live's management API through the official SDK (huaweicloudsdklive).

Registering the receiver as a recording callback URL, record control, and the recorded-files
list. AK/SK come from the environment and are held as Secrets; SDK request objects are never
logged or printed (their reprs carry whatever the request holds, keys included).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions import exceptions as sdk_errors
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdklive.v1 import (
    CreateRecordCallbackConfigRequest,
    ListRecordCallbackConfigsRequest,
    ListRecordContentsRequest,
    LiveClient,
    RecordCallbackConfigRequest,
    RecordControlInfo,
    RunRecordRequest,
    UpdateRecordCallbackConfigRequest,
)
from huaweicloudsdklive.v1.region.live_region import LiveRegion

from receiver.secret import Secret

# The SDK's own variable names first, then those of Huawei's published examples.
ENV_NAMES = {
    "ak": ("HUAWEICLOUD_SDK_AK", "CLOUD_SDK_AK"),
    "sk": ("HUAWEICLOUD_SDK_SK", "CLOUD_SDK_SK"),
    "project_id": ("HUAWEICLOUD_SDK_PROJECT_ID", "CLOUD_SDK_PROJECT_ID"),
}
PAGE_SIZE = 100


class HuaweiApiError(Exception):
    """The management API refused or could not be reached; the message says which and why."""


@dataclass(frozen=True, slots=True)
class HuaweiCredentials:
    """AK/SK and the project they act in."""

    ak: Secret
    sk: Secret
    project_id: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> HuaweiCredentials:
        """Read the credentials, or raise HuaweiApiError naming the missing variables."""
        found: dict[str, str] = {}
        for field, names in ENV_NAMES.items():
            value = next((environ[name] for name in names if environ.get(name)), None)
            if value is None:
                raise HuaweiApiError(f"set {' or '.join(names)} in the environment")
            found[field] = value
        return cls(Secret(found["ak"]), Secret(found["sk"]), found["project_id"])


def build_client(
    credentials: HuaweiCredentials, *, region: str | None, endpoint: str | None
) -> LiveClient:
    """A LiveClient for a region, or for an explicit endpoint (which wins)."""
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    basic = BasicCredentials(
        credentials.ak.reveal(), credentials.sk.reveal(), credentials.project_id
    )
    builder = LiveClient.new_builder().with_http_config(config).with_credentials(basic)
    if endpoint:
        builder = builder.with_endpoints([endpoint])
    elif region:
        try:
            builder = builder.with_region(LiveRegion.value_of(region))
        except KeyError:
            raise HuaweiApiError(f"unknown region {region!r}; pass --endpoint instead") from None
    else:
        raise HuaweiApiError("pass --region or --endpoint (or set HUAWEICLOUD_LIVE_ENDPOINT)")
    return builder.build()


@dataclass(frozen=True, slots=True)
class Registration:
    """The outcome of registering a callback URL."""

    action: str  # "created" or "updated"
    config_id: str


@dataclass(frozen=True, slots=True)
class RecordedFile:
    """One file of Huawei's recorded-files list, in callback field names."""

    fields: dict[str, Any]


def _call(function: Any, request: Any) -> Any:
    try:
        return function(request)
    except sdk_errors.ServiceResponseException as exc:
        raise HuaweiApiError(
            f"Huawei answered HTTP {exc.status_code} {exc.error_code}: {exc.error_msg}"
        ) from None
    except sdk_errors.SdkException as exc:
        raise HuaweiApiError(f"Huawei could not be reached: {type(exc).__name__}") from None
    except (ValueError, TypeError, KeyError) as exc:  # the SDK's model could not read the answer
        raise HuaweiApiError(f"Huawei's answer could not be read: {exc}") from None


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LiveManagement:
    """The management calls the receiver's commands make."""

    def __init__(self, client: LiveClient) -> None:
        self._client = client

    def find_callback_config(self, publish_domain: str, app: str) -> Any | None:
        """The recording callback config of exactly (publish_domain, app), if there is one."""
        request = ListRecordCallbackConfigsRequest(publish_domain=publish_domain, app=app)
        response = _call(self._client.list_record_callback_configs, request)
        for config in response.callback_config or []:
            if config.publish_domain == publish_domain and config.app == app:
                return config
        return None

    def register(
        self,
        publish_domain: str,
        app: str,
        url: str,
        *,
        sign_type: str,
        key: Secret | None,
        events: Sequence[str],
    ) -> Registration:
        """Create or update the recording callback config so Huawei calls url."""
        body = RecordCallbackConfigRequest(
            publish_domain=publish_domain,
            app=app,
            notify_callback_url=url,
            notify_event_subscription=list(events),
            sign_type=sign_type,
            key=key.reveal() if key else None,
        )
        existing = self.find_callback_config(publish_domain, app)
        if existing is None:
            created = _call(
                self._client.create_record_callback_config,
                CreateRecordCallbackConfigRequest(body=body),
            )
            return Registration("created", str(created.id))
        _call(
            self._client.update_record_callback_config,
            UpdateRecordCallbackConfigRequest(id=existing.id, body=body),
        )
        return Registration("updated", str(existing.id))

    def record(self, action: str, publish_domain: str, app: str, stream: str) -> None:
        """Start or stop a command recording (action START or STOP)."""
        body = RecordControlInfo(publish_domain=publish_domain, app=app, stream=stream)
        _call(self._client.run_record, RunRecordRequest(action=action, body=body))

    def recorded_files(
        self,
        publish_domain: str,
        app: str,
        start: datetime,
        end: datetime,
        *,
        stream: str | None = None,
    ) -> Iterator[list[RecordedFile]]:
        """Pages of the recorded files of (publish_domain, app) between start and end."""
        offset = 0
        while True:
            request = ListRecordContentsRequest(
                publish_domain=publish_domain,
                app=app,
                stream=stream,
                start_time=_utc(start),
                end_time=_utc(end),
                offset=offset,
                limit=PAGE_SIZE,
            )
            response = _call(self._client.list_record_contents, request)
            # The SDK's model turns start_time and end_time into dates, dropping the time of
            # day; the raw answer keeps Huawei's exact times.
            answer = response.to_json_object() or {}
            contents = answer.get("record_contents") or []
            yield [RecordedFile(_callback_fields(content)) for content in contents]
            offset += len(contents)
            if not contents or offset >= int(answer.get("total") or 0):
                return


def _callback_fields(content: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded file as the fields of the RECORD_FILE_COMPLETE callback it stands for."""
    obs = content.get("obs_addr") or {}
    fields = {
        "event_type": "RECORD_FILE_COMPLETE",
        "publish_domain": content.get("publish_domain"),
        "app": content.get("app"),
        "stream": content.get("stream"),
        "record_format": content.get("record_format"),
        "download_url": content.get("download_url"),
        "asset_id": content.get("file_name"),
        "record_duration": content.get("duration"),
        "start_time": content.get("start_time"),
        "end_time": content.get("end_time"),
        "obs_location": obs.get("location"),
        "obs_bucket": obs.get("bucket"),
        "obs_object": obs.get("object"),
    }
    return {name: value for name, value in fields.items() if value is not None}


def endpoint_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """An endpoint override from HUAWEICLOUD_LIVE_ENDPOINT."""
    return environ.get("HUAWEICLOUD_LIVE_ENDPOINT") or None
