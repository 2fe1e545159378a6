"""App Store Connect for the state commands: `versions --remote` and `delete --expire-build`.

The API key is the one the profile's steps use (their `api_key` setting), unless --api-key names another;
with no flow, the conventional environment variables (resolve_api_key's fallback) are used.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from publish.asc.client import AppStoreConnect
from publish.asc.transport import resolve_base_url
from publish.commands._builds import list_app_builds
from publish.errors import InputError
from publish.secrets import resolve_api_key
from publish.spec import FlowSpec, load_flow



def load_flow_file(path: str) -> FlowSpec:
    return load_flow(path)


def profile_api_key_name(flow: FlowSpec | None, bundle_id: str) -> str | None:
    """The `api_key` the profile's steps use (the first one that names one)."""
    if flow is None:
        return None
    for profile in flow.profiles:
        if profile.bundle_id == bundle_id:
            for step in profile.flow:
                name = step.settings.get("api_key")
                if name:
                    return str(name)
    return None


def connect(args: argparse.Namespace, ctx: Any, flow: FlowSpec | None, bundle_id: str) -> AppStoreConnect:
    name = getattr(args, "api_key", None) or profile_api_key_name(flow, bundle_id)
    base_dir = (getattr(flow, "base_dir", None) or Path(flow.path).resolve().parent) if flow is not None else Path.cwd()
    key = resolve_api_key(flow, name, env=ctx.env, base_dir=base_dir, redactor=ctx.redactor, mask=ctx.register_secret)
    base_url = resolve_base_url(getattr(args, "api_base_url", None), ctx.env)
    return AppStoreConnect(key, base_url=base_url)


def connect_for_app(args: argparse.Namespace, ctx: Any, bundle_id: str) -> AppStoreConnect:
    """A client for the app `bundle_id` with the API key --api-key names, else the one its profile in --flow uses
    (or the flow's only key), else the conventional environment variables."""
    flow = load_flow_file(args.flow) if args.flow else None
    if not args.api_key and flow is not None:
        args.api_key = profile_api_key_name(flow, bundle_id)
        if args.api_key is None and len(flow.api_keys) == 1:  # a flow of one team need not list every app
            args.api_key = next(iter(flow.api_keys))
    return connect(args, ctx, flow, bundle_id)


def require_app(client: AppStoreConnect, bundle_id: str, *, also: str = "") -> Any:
    """The app App Store Connect holds under `bundle_id`; InputError when this key's team has none."""
    app = client.find_app(bundle_id)
    if app is None:
        raise InputError(f"App Store Connect has no app with bundle ID {bundle_id} (for this API key's team)",
                         hint="check the bundle ID (App Store Connect → the app → App Information), and that the "
                         f"API key belongs to the team that owns the app{also}")
    return app


def remote_builds_by_bundle(
    args: argparse.Namespace, ctx: Any, flow: FlowSpec | None, rows: list[dict[str, Any]], warnings: list[str]
) -> dict[str, list[dict[str, Any]]]:
    if args.profile:
        bundle_ids = [args.profile]
    elif flow is not None:
        bundle_ids = [p.bundle_id for p in flow.profiles]
    else:
        bundle_ids = sorted({row["bundle_id"] for row in rows})
    if not bundle_ids:
        raise InputError(
            "--remote has no app to look up: the state store is empty and no profile was given",
            hint="pass --flow FLOW (its profiles are looked up) or --profile BUNDLE_ID",
        )
    clients: dict[str | None, AppStoreConnect] = {}
    result: dict[str, list[dict[str, Any]]] = {}
    try:
        for bundle_id in bundle_ids:
            key_name = getattr(args, "api_key", None) or profile_api_key_name(flow, bundle_id)
            if key_name not in clients:
                clients[key_name] = connect(args, ctx, flow, bundle_id)
            client = clients[key_name]
            app = client.find_app(bundle_id)
            if app is None:
                warnings.append(f"App Store Connect has no app with bundle ID {bundle_id} (for this API key's team)")
                continue
            result[bundle_id] = list_app_builds(client, app.id)
    finally:
        for client in clients.values():
            client.close()
    return result
