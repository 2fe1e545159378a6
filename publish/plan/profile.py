"""Which publish profile of a flow a binary belongs to: by its bundle ID, or the one `--profile` names."""

from __future__ import annotations

from publish.errors import InputError
from publish.spec import FlowSpec, ProfileSpec


def choose_profile(flow: FlowSpec, bundle_id: str, override: str | None) -> ProfileSpec:
    """The profile for `bundle_id`, or the one `override` names (by bundle ID or by profile name)."""
    available = ", ".join(_label(p) for p in flow.profiles)
    if override:
        for profile in flow.profiles:
            if override in (profile.bundle_id, profile.name):
                return profile
        raise InputError(f"--profile {override}: the flow {flow.path} has no such profile (profiles: {available})",
                         hint="give the bundle ID or the name of one of the profiles above")
    for profile in flow.profiles:
        if profile.bundle_id == bundle_id:
            return profile
    raise InputError(f"the flow {flow.path} has no profile for bundle ID {bundle_id} (profiles: {available})",
                     hint=f"add a profile with `bundle_id: {bundle_id}`, or pick one with --profile BUNDLE_ID if "
                     "the IPA is meant for it")


def _label(profile: ProfileSpec) -> str:
    return f"{profile.bundle_id} ({profile.name})" if profile.name else profile.bundle_id
