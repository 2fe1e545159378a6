"""What to Test (protocol.md D, H.17): the localizations created or updated per locale (a create that collides with
the one Apple makes itself after processing becomes an update). The text was held to Apple's limits by the plan
(publish/plan/values.py)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from publish.asc import AppStoreConnect, AscApiError, Resource
from publish.steps.base import StepContext
from publish.steps.safe_writes import create_once, set_values


def upsert_what_to_test(ctx: StepContext, client: AppStoreConnect, build_id: str, notes: Mapping[str, str],
                        existing: list[Resource] | None) -> int:
    """Create or update the What to Test text per locale (locales compared case-insensitively). Apple creates
    the primary-locale localization itself some time after processing (H.17), so a create can collide: then the
    localization is read again and updated. Returns the number of writes."""
    if not notes:
        return 0
    locs = existing if existing is not None else client.list_beta_build_localizations(build_id)
    by_locale = {str(loc.attr("locale")).lower(): loc for loc in locs}
    writes = 0
    for locale, text in notes.items():
        current = by_locale.get(locale.lower())
        if current is not None and (current.attr("whatsNew") or "").strip() == text:
            continue
        if current is None:
            try:
                create_once(
                    ctx, f"What to Test ({locale})",
                    partial(client.create_beta_build_localization, build_id, locale, text),
                    partial(_find_localization, client, build_id, locale),
                )
                writes += 1
                continue
            except AscApiError as exc:
                if exc.status != 409:
                    raise
                current = _find_localization(client, build_id, locale)
                if current is None:
                    raise
                ctx.log.info("What to Test (%s): App Store Connect had just created it; updating it", locale)
                if (current.attr("whatsNew") or "").strip() == text:
                    continue
        set_values(ctx, f"What to Test ({locale})",
                   partial(client.update_beta_build_localization, current.id, text))
        writes += 1
    ctx.log.info("What to Test: %s", ", ".join(notes) + (" (already up to date)" if not writes else ""))
    return writes


def _find_localization(client: AppStoreConnect, build_id: str, locale: str) -> Resource | None:
    return next((loc for loc in client.list_beta_build_localizations(build_id)
                 if str(loc.attr("locale", "")).lower() == locale.lower()), None)
