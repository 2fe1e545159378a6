"""`expire_previous_builds` on send_to_testflight: expire the builds of the same version that the build just shipped
replaces (issue 13 part 3; protocol.md F: `PATCH /v1/builds/{id}` `{"expired": true}`).

Why it is careful:
* Expiry cannot be undone (F), so every build to expire is chosen, and every reason to refuse is checked, before
  the first PATCH - and once already before the upload (with the IPA's build number), so a flow that would hit a
  build in review stops before an hour of upload and processing, not after.
* The build just shipped is never a candidate; neither is a build that is not VALID (nothing to take off
  TestFlight, and Apple may refuse it while processing) nor one whose number is not dotted integers (it cannot be
  ranked the way Apple ranks build numbers, H8).
* A build attached to an App Store version is never expired. When that version is in review or past it (waiting,
  in review, approved and pending release...) the step refuses: the setting as written would take the build Apple
  is reviewing, and the user must say which builds to keep. A build on an editable or released version is kept,
  with a log line.
* A build in TestFlight beta review is refused likewise, unless `expire_builds_in_beta_review: true` asks for it
  (codemagic's `--expire-build-submitted-for-review` is the same choice, H3).

Which builds: `true` expires every VALID build of the version with a lower build number than the one shipped; a
number N keeps the newest N builds of the version by build number, counting the one shipped (always kept, even
when it is not among the newest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from publish.asc import AppStoreConnect, Resource
from publish.errors import InputError
from publish.steps.appstore import find_version, version_state
from publish.plan.values import ExpiryPolicy
from publish.steps.base import StepContext
from publish.steps.safe_writes import set_values
from publish.upload.numbers import build_number_key, builds_on_train

# App Store version states in which the attached build is under (or through) Apple's review: never to be touched.
IN_REVIEW_VERSION_STATES = ("READY_FOR_REVIEW", "WAITING_FOR_REVIEW", "IN_REVIEW", "WAITING_FOR_EXPORT_COMPLIANCE",
                            "PENDING_DEVELOPER_RELEASE", "PENDING_APPLE_RELEASE", "ACCEPTED",
                            "PROCESSING_FOR_DISTRIBUTION")


@dataclass
class ExpiryPlan:
    expire: list[Resource] = field(default_factory=list)
    kept: list[tuple[Resource, str]] = field(default_factory=list)  # (build, why it stays)


def choose(builds: Sequence[Resource], shipped_number: str, shipped_id: str | None,
           policy: ExpiryPolicy) -> ExpiryPlan:
    """Which builds of the version the policy expires (pure: no remote call). `shipped_id` is None before the
    upload, when the shipped build is known by its number only."""
    plan = ExpiryPlan()
    shipped_key = build_number_key(shipped_number)
    ranked: list[tuple[tuple[int, ...], Resource]] = []
    for build in builds:
        number = str(build.attr("version", ""))
        key = build_number_key(number)
        if build.id == shipped_id or (key is not None and key == shipped_key) or build.attr("expired"):
            continue
        if build.attr("processingState") != "VALID":
            plan.kept.append((build, f"it is {build.attr('processingState') or 'in an unknown state'}"))
        elif key is None:
            plan.kept.append((build, "its build number is not made of dotted integers, so it cannot be ranked"))
        else:
            ranked.append((key, build))
    ranked.sort(key=lambda pair: pair[0], reverse=True)
    if policy.keep is None:
        for key, build in ranked:
            if shipped_key is not None and key < shipped_key:
                plan.expire.append(build)
            else:
                plan.kept.append((build, "its build number is higher than the one shipped"))
    else:
        for index, (_, build) in enumerate(ranked):
            if index < policy.keep - 1:
                plan.kept.append((build, f"it is among the newest {policy.keep}"))
            else:
                plan.expire.append(build)
    return plan


def plan_expiry(ctx: StepContext, client: AppStoreConnect, app_id: str, policy: ExpiryPolicy,
                shipped_id: str | None) -> ExpiryPlan:
    """Choose the builds to expire and refuse, before any change, when one is in App Store or beta review."""
    ipa = ctx.ipa
    builds = builds_on_train(client, app_id, ipa.version, ipa.platform).builds
    plan = choose(builds, ipa.build_number, shipped_id, policy)
    if not plan.expire:
        return plan
    _, versions, _ = find_version(ctx, client, app_id)
    on_versions = {v.related_id("build"): v for v in versions if v.related_id("build")}
    in_beta_review = {b.id for b in client.list_builds_in_beta_review(app_id)}
    refused: list[str] = []
    beta_refused: list[str] = []
    expire: list[Resource] = []
    for build in plan.expire:
        version = on_versions.get(build.id)
        if version is not None and version_state(version) in IN_REVIEW_VERSION_STATES:
            refused.append(f"{_label(ipa.version, build)} is on App Store version {version.attr('versionString')} "
                           f"({version_state(version)})")
        elif version is not None:
            plan.kept.append((build, f"it is attached to App Store version {version.attr('versionString')} "
                              f"({version_state(version)})"))
        elif build.id in in_beta_review and not policy.in_beta_review:
            beta_refused.append(_label(ipa.version, build))
        else:
            expire.append(build)
    if refused:
        raise InputError(
            f"expire_previous_builds ({policy.describe()}) would expire a build Apple is reviewing or has approved: "
            + "; ".join(refused) + ". Nothing was expired",
            hint="keep more builds (expire_previous_builds: N, N large enough to keep it), or run again once the "
            "review is over and that version is released",
        )
    if beta_refused:
        raise InputError(
            f"expire_previous_builds ({policy.describe()}) would expire a build in TestFlight beta review: "
            + ", ".join(beta_refused) + ". Nothing was expired",
            hint="set expire_builds_in_beta_review: true to expire it anyway (its beta review is dropped), or keep "
            "more builds (expire_previous_builds: N)",
        )
    plan.expire = expire
    return plan


def expire_builds(ctx: StepContext, client: AppStoreConnect, plan: ExpiryPlan, policy: ExpiryPolicy) -> list[str]:
    """Expire the planned builds, one log line each; returns their labels."""
    version = ctx.ipa.version
    for build, why in plan.kept:
        ctx.log.info("keeping build %s: %s", _label(version, build), why)
    done: list[str] = []
    for build in plan.expire:
        label = _label(version, build)
        # Setting expired:true twice leaves the same state, so a lost answer is simply repeated.
        set_values(ctx, f"expire build {label}", partial(client.update_build, build.id, expired=True))
        ctx.log.info("expired build %s (id %s): it is no longer available in TestFlight", label, build.id)
        done.append(label)
    if not done:
        ctx.log.info("expire_previous_builds: no earlier build of version %s to expire", version)
    return done


def _label(version: str, build: Resource) -> str:
    return f"{version} ({build.attr('version')})"
