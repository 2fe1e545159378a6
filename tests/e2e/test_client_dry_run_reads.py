"""A dry run that may read, against the simulator over loopback HTTP: what it reads is App Store Connect's (a
group's type, the app), what it writes stays in the client, and a listing mixes both (issue 14)."""

from __future__ import annotations

from flow_harness import BUNDLE_ID, EXTERNAL, INTERNAL, ISSUER_ID, KEY_ID, FlowWorld

from publish.asc import ApiKey, AppStoreConnect


def test_a_dry_run_with_reads_reads_the_store_and_sends_no_write(world: FlowWorld) -> None:
    client = AppStoreConnect(ApiKey(KEY_ID, ISSUER_ID, world.private_pem), base_url=world.server.url, dry_run=True,
                             dry_run_reads=True, sleep=lambda s: None)
    app = client.find_app(BUNDLE_ID)
    assert app is not None and app.id == world.app_id
    kinds = {str(g.attr("name")): bool(g.attr("isInternalGroup")) for g in client.list_beta_groups(app.id)}
    assert kinds[INTERNAL] is True and kinds[EXTERNAL] is False
    upload = client.create_build_upload(app.id, version="1.0.0", build_number="1")
    builds = client.list_builds(app.id, version="1.0.0", build_number="1")
    assert [b.related_id("buildUpload") for b in builds] == [upload.id]
    client.add_build_to_beta_groups(builds[0].id, [world.groups[INTERNAL]])
    assert {e.method for e in world.server.exchanges} == {"GET"}
    assert len(world.server.exchanges) == client.call_count == 3  # the app, its groups, its builds
    assert [c.sent for c in client.dry_run_calls] == [True, True, False, True, False]


def test_without_reads_a_dry_run_sends_nothing(world: FlowWorld) -> None:
    client = AppStoreConnect(ApiKey(KEY_ID, ISSUER_ID, world.private_pem), base_url=world.server.url, dry_run=True,
                             sleep=lambda s: None)
    assert client.find_app(BUNDLE_ID) is None and client.list_beta_groups(world.app_id) == []
    assert world.server.exchanges == [] and client.call_count == 0
