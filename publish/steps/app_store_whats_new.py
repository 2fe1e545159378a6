"""What's New on an App Store version, written the way App Store Connect takes it (protocol.md E3, H6, H12).

* A first release takes no What's New (H6): Apple refuses `whatsNew` on an app's first App Store version ("Attribute
  'whatsNew' cannot be edited at this time"). The notes are left out with a warning, not an error: the release
  itself is what the user wants, and the description is what the store shows for it. The same answer to a write
  (Apple knows better than our guess) is taken the same way.
* An update needs What's New in every locale it has (H12), else the review item add answers 409 "... is not in
  valid state". So plain text (no `locale:`) goes to every locale the version has, and per-locale notes that leave
  a locale without text are refused before anything is written when the flow submits for review (which locales,
  and how to give text per locale); without submission they are a warning.
* A locale the store page lacks is not created silently: a new appStoreVersionLocalization adds a language to the
  app's store page. The store page's languages are those of the version and of the app's latest version that was
  on the store (App Store Connect copies them to a new version; when it has not yet, creating one of them adds
  nothing new). For any other locale the step refuses, naming the languages the page has, unless the flow says
  `add_missing_locales: true`; then it creates it and says so. Locales match case-insensitively (en-us = en-US).
"""

from __future__ import annotations

from collections.abc import Mapping

from publish.asc import AppStoreConnect, AscApiError, Resource
from publish.errors import InputError
from publish.steps.appstore import EVERY_LOCALE
from publish.steps.base import StepContext
from publish.steps.safe_writes import create_once, set_values

PER_LOCALE_HINT = ("give whats_new per locale, e.g.\n  whats_new:\n    en-US: Faster start.\n    de-DE: Schnellerer "
                   "Start.\n(or a plain string without `locale:`, which is written to every locale the version has)")


def whats_new_refused(exc: AscApiError) -> bool:
    """Apple's answer to whatsNew on a first release (or in a state that locks it)."""
    text = exc.detail_text().lower()
    about = "whatsnew" in text or any("whatsNew" in (e.source_pointer or "") for e in exc.errors)
    return exc.status == 409 and about and any(words in text for words in ("at this time", "first", "not allowed"))


def first_release_warning(ctx: StepContext) -> str:
    return (f"What's New left out: version {ctx.ipa.version} is the app's first App Store release on "
            f"{ctx.ipa.platform}, and App Store Connect takes no What's New on a first release (the store shows the "
            "description); give whats_new from the next version on")


def missing_whats_new(ctx: StepContext, locales: list[str]) -> str:
    return (f"App Store version {ctx.ipa.version} has no What's New in {', '.join(sorted(locales))}; App Store "
            "Connect refuses to take an update for review unless every locale of the version has it")


def _by_locale(localizations: list[Resource]) -> dict[str, Resource]:
    return {str(loc.attr("locale")).lower(): loc for loc in localizations if loc.attr("locale")}


def upsert_whats_new(ctx: StepContext, client: AppStoreConnect, app_id: str, version_id: str,
                     notes: Mapping[str, str], *, first_release: bool, add_missing_locales: bool,
                     for_review: bool, listing_version_id: str | None = None) -> dict[str, str] | None:
    """Write What's New; returns the text per locale the version then has (None when not read). With
    `for_review`, a locale left without text is refused before any write."""
    if first_release:
        if notes:
            ctx.warn(first_release_warning(ctx))
        return None
    if not notes and not for_review:
        return None
    existing = _by_locale(client.list_app_store_version_localizations(version_id))
    wanted = _wanted(client, app_id, notes, existing)
    new_locales = sorted(locale for locale in wanted if locale.lower() not in existing)
    listing: dict[str, Resource] = dict(existing)
    if new_locales and listing_version_id:
        listing.update(_by_locale(client.list_app_store_version_localizations(listing_version_id)))
    new_languages = [locale for locale in new_locales if locale.lower() not in listing]
    if new_languages and not add_missing_locales and existing:
        has = ", ".join(sorted(str(loc.attr("locale")) for loc in listing.values()))
        raise InputError(
            f"whats_new: App Store version {ctx.ipa.version} has no {', '.join(new_languages)} localization (the "
            f"store page's languages: {has}); writing What's New there would add that language to the app's store "
            "page",
            hint="add the language in App Store Connect first, remove it from whats_new, or set "
            "`add_missing_locales: true` to let this step add it",
        )
    after = {str(loc.attr("locale")): (loc.attr("whatsNew") or "").strip() for loc in existing.values()}
    after.update(wanted)
    lacking = [locale for locale, text in after.items() if not text]
    if lacking and for_review:
        raise InputError(missing_whats_new(ctx, lacking), hint=PER_LOCALE_HINT)
    if lacking and notes:
        ctx.warn(missing_whats_new(ctx, lacking) + "; add it before submitting")
    writes = _write_changed(ctx, client, version_id, wanted, existing)
    if writes is None:
        return None
    if new_languages:
        ctx.warn(f"added {', '.join(new_languages)} to App Store version {ctx.ipa.version} (add_missing_locales: "
                 "true): the app's store page now lists that language")
    if wanted:
        ctx.log.info("What's New: %s", ", ".join(wanted) + (" (already up to date)" if not writes else ""))
    return after


def _write_changed(ctx: StepContext, client: AppStoreConnect, version_id: str, wanted: Mapping[str, str],
                   existing: Mapping[str, Resource]) -> int | None:
    """Write the locales whose text differs; the number written, or None when Apple refuses What's New (a first
    release it did not know of: warned about, nothing more is written)."""
    writes = 0
    for locale, text in wanted.items():
        current = existing.get(locale.lower())
        if current is not None and (current.attr("whatsNew") or "").strip() == text:
            continue
        try:
            _write(ctx, client, version_id, locale, text, current)
        except AscApiError as exc:
            if not whats_new_refused(exc):
                raise
            ctx.warn(first_release_warning(ctx) + f" (App Store Connect: {' '.join(exc.detail_text().split())})")
            return None
        writes += 1
    return writes


def _wanted(client: AppStoreConnect, app_id: str, notes: Mapping[str, str],
            existing: dict[str, Resource]) -> dict[str, str]:
    """The text per locale as the version spells the locale (or as the flow does, for a new one)."""
    if EVERY_LOCALE in notes:
        text = notes[EVERY_LOCALE]
        wanted = {str(loc.attr("locale")): text for loc in existing.values()}
        if not wanted:  # Apple always creates the primary locale's localization; if it is not there, use that
            wanted = {str(client.get_app(app_id).attr("primaryLocale") or "en-US"): text}
        return wanted
    return {str(existing[locale.lower()].attr("locale")) if locale.lower() in existing else locale: text
            for locale, text in notes.items()}


def _write(ctx: StepContext, client: AppStoreConnect, version_id: str, locale: str, text: str,
           current: Resource | None) -> None:
    if current is not None:
        set_values(ctx, f"What's New ({locale})",
                   lambda: client.update_app_store_version_localization(current.id, whats_new=text))
        return
    create_once(
        ctx, f"What's New ({locale})",
        lambda: client.create_app_store_version_localization(version_id, locale, whats_new=text),
        lambda: next((loc for loc in client.list_app_store_version_localizations(version_id, locale=locale)
                      if str(loc.attr("locale")).lower() == locale.lower()), None),
    )


def require_whats_new_everywhere(ctx: StepContext, client: AppStoreConnect, version_id: str, *,
                                 first_release: bool, known: Mapping[str, str] | None = None) -> None:
    """Before a version joins a review submission: an update must have What's New in every locale (H12)."""
    if first_release:
        return
    if known is None:
        known = {str(loc.attr("locale")): (loc.attr("whatsNew") or "").strip()
                 for loc in client.list_app_store_version_localizations(version_id)}
    lacking = [locale for locale, text in known.items() if not text]
    if lacking:
        raise InputError(missing_whats_new(ctx, lacking),
                         hint=PER_LOCALE_HINT.replace("give whats_new", "give whats_new in send_to_app_store"))
