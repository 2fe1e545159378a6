"""What the real App Store Connect does that its OpenAPI description does not say (protocol.md section H), as
switches: every one on by default, so every test meets Apple as it is; each can be turned off (in the sandbox data
file's `realism:` mapping, or `SandboxServer(realism=Realism(...))`) for a focused test of something else.

A behaviour lives in the handler module of its area; this module only holds the switches and their knobs, so that
the simulator's handlers read `call.sim.realism.<name>` and a test can say exactly which of Apple's habits it needs.
Counts are of *reads* (GETs that return the resource) rather than seconds, so a test runs as fast as its client
polls, and a client that never re-reads never sees the state move on (as a client that does not wait fails).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Realism:
    # --- App Store review (H1, H5, H6, H11, H12, H16) ------------------------------------------------------------
    # H1: after an item is added, the version reaches READY_FOR_REVIEW only after this many reads of it; a submit
    # before that answers 409 "Version is not ready to be submitted yet, please try again later".
    submit_waits_for_ready_for_review: bool = True
    ready_for_review_after_reads: int = 2
    # H5: earliestReleaseDate must be on the hour (zero minutes and seconds).
    release_date_on_the_hour: bool = True
    # H6: an app's first App Store version takes no whatsNew ("Attribute 'whatsNew' cannot be edited at this time").
    no_whats_new_on_first_version: bool = True
    # H11: a canceled review submission passes through CANCELING (and a submitted one through COMPLETING) for this
    # many reads; meanwhile creating a submission or adding an item answers 409 "... still in progress".
    review_submissions_in_motion: bool = True
    in_motion_reads: int = 2
    # H12: an update (not the first version) needs whatsNew in every locale it has, else the item add answers 409
    # "appStoreVersions '...' is not in valid state".
    whats_new_in_every_locale: bool = True
    # H16: releaseType cannot be changed for a short while (this many reads of the version) after the version's
    # localizations were written: "Attribute 'releaseType' cannot be edited at this time".
    release_type_first: bool = True
    release_type_locked_reads: int = 2

    # --- TestFlight and uploads (H2, H3, H4, H7, H9, H10, H15, H17) -------------------------------------------------
    # H2: after processingState turns VALID, buildBetaDetail's internal/external states stay PROCESSING for this
    # many reads of the beta detail (or build); group adds and beta review answer 422 meanwhile. After an export
    # compliance PATCH, externalBuildState stays MISSING_EXPORT_COMPLIANCE for as many reads.
    beta_state_lags_valid: bool = True
    beta_state_reads: int = 2
    # H3: one build of an app in beta review at a time.
    one_build_in_beta_review: bool = True
    # H4: external beta review without Beta App Review details / beta app localization / What to Test: a bare 500.
    beta_review_needs_test_information: bool = True
    # H7: the build-file commit refuses sourceFileChecksums with 409.
    commit_refuses_checksums: bool = True
    # H9: a resource just created answers 404 to its first read(s); include=build reads build null while
    # PROCESSING; the file stays AWAITING_UPLOAD for a read after the commit.
    propagation_delay: bool = True
    propagation_reads: int = 1
    # H10: POST buildBetaNotifications answers 409 "Auto-notify already enabled" once testers are being notified.
    notification_race: bool = True
    # H15: a FAILED build upload carries Apple's numeric codes (90054, 90062, 90725, 90683, ...).
    processing_failure_codes: bool = True
    # H17: Apple creates the primary-locale betaBuildLocalization itself soon after processing, so a POST collides
    # (409); What to Test is limited to 4000 bytes.
    default_beta_localization: bool = True

    # --- Everywhere (H8, H13, H14) -------------------------------------------------------------------------------
    # H8: X.Y and X.Y.0 are one version, queryable only in the form first uploaded; leading zeros are dropped.
    version_forms: bool = True
    # H13: the hourly per-key budget and 429 with Retry-After (the budget itself is SandboxServer's
    # rate_limit_per_hour).
    hourly_rate_limit: bool = True
    # H14: a token valid for more than 20 minutes by the server's clock is refused (exp - now > 1200).
    strict_token_lifetime: bool = True

    @classmethod
    def off(cls) -> Realism:
        """Every behaviour off: the simulator as the OpenAPI description alone would have it."""
        return cls(**{f.name: False for f in fields(cls) if f.type in ("bool", bool)})

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> Realism:
        """From the data file's `realism:` mapping (validated by its schema; unknown names are refused)."""
        if not values:
            return cls()
        known = {f.name for f in fields(cls)} | {"all"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown realism switch(es): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        base = cls.off() if values.get("all") is False else cls()
        return replace(base, **{k: v for k, v in values.items() if k != "all"})

    def without(self, *names: str) -> Realism:
        """These behaviours off, the rest as they are."""
        return replace(self, **{name: False for name in names})
