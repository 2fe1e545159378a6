"""Flow files are read with YAML 1.2 meaning (issue 12): versions stay the text written, `no`/`yes`/`on`/`off` are
strings (keys and values), only true/false are booleans, 1.1's octal and sexagesimal forms are not numbers; and the
FILE:LINE:COLUMN diagnostics still point at the right place."""

from __future__ import annotations

import pytest

from publish.spec import FlowError, load_flow_text


def flow(step_lines: str, top: str = "") -> str:
    return ("version: 1\n" + top + "profiles:\n  - bundle_id: com.example.app\n    flow:\n"
            "      - step: send_to_testflight\n" + "".join(f"        {line}\n" for line in step_lines.splitlines()))


def settings(text: str) -> dict:
    return load_flow_text(text, "flow.yml").profiles[0].flow[0].settings


@pytest.mark.parametrize("written", ["16.10", "16.2", "16.0", "15.4.1", "16"])
def test_a_version_stays_the_text_as_written(written: str) -> None:
    assert settings(flow(f"xcode_version: {written}"))["xcode_version"] == written


def test_release_notes_written_as_a_number_are_that_text() -> None:
    assert settings(flow("what_to_test: 1.10"))["what_to_test"] == "1.10"
    assert settings(flow("what_to_test: 0x1F"))["what_to_test"] == "0x1F"


@pytest.mark.parametrize("word", ["no", "yes", "on", "off", "y", "n", "No", "YES", "Off"])
def test_yaml_11_booleans_are_strings(word: str) -> None:
    assert settings(flow(f"what_to_test: {word}"))["what_to_test"] == word
    assert settings(flow(f"what_to_test:\n  en-US: {word}"))["what_to_test"] == {"en-US": word}


def test_a_no_locale_key_is_the_norwegian_locale_not_false() -> None:
    got = settings(flow("what_to_test:\n  no: Norsk\n  en-US: English"))["what_to_test"]
    assert got == {"no": "Norsk", "en-US": "English"}


def test_only_true_and_false_are_booleans() -> None:
    assert settings(flow("notify_testers: true"))["notify_testers"] is True
    assert settings(flow("notify_testers: False"))["notify_testers"] is False
    with pytest.raises(FlowError) as caught:
        load_flow_text(flow("notify_testers: yes"), "flow.yml")
    assert "flow.yml:6:25: profiles[0].flow[0].notify_testers: must be true or false, got a string ('yes')" \
        in str(caught.value)


@pytest.mark.parametrize("written, seconds", [("3600", 3600), ("0o17", 15), ("0x10", 16), ("010", 10)])
def test_integers_follow_the_yaml_12_core_schema(written: str, seconds: int) -> None:
    assert settings(flow(f"processing_timeout: {written}"))["processing_timeout"] == seconds


@pytest.mark.parametrize("written", ["1:30", "1_000", "0b101"])
def test_yaml_11_number_forms_are_not_numbers(written: str) -> None:
    # 1.1 read these as 90, 1000 and 5: here they are text, so the duration pattern judges them.
    with pytest.raises(FlowError) as caught:
        load_flow_text(flow(f"processing_timeout: {written}"), "flow.yml")
    assert f"processing_timeout: '{written}' is not valid" in str(caught.value)


def test_a_number_where_a_number_is_wanted_keeps_its_number_message() -> None:
    with pytest.raises(FlowError) as caught:
        load_flow_text(flow("processing_timeout: 0"), "flow.yml")
    assert "flow.yml:6:29: profiles[0].flow[0].processing_timeout: must be at least 1, got 0" in str(caught.value)


def test_a_quoted_version_and_a_plain_one_read_the_same() -> None:
    assert settings(flow('xcode_version: "16.10"')) == settings(flow("xcode_version: 16.10"))


def test_diagnostics_keep_their_line_and_column_after_a_kept_string() -> None:
    with pytest.raises(FlowError) as caught:
        load_flow_text(flow("xcode_version: 16.10\ngroups: QA"), "flow.yml")
    message = str(caught.value)
    assert "flow.yml:7:17: profiles[0].flow[0].groups: must be a list" in message
    assert "xcode_version" not in message


def test_timestamps_stay_text() -> None:
    text = flow("").replace("send_to_testflight", "send_to_app_store") + \
        "        stage_type: app_store\n        release_type: scheduled\n        scheduled_release_date: 2030-03-01T09:00:00Z\n"
    assert load_flow_text(text, "f.yml").profiles[0].flow[0].settings["scheduled_release_date"] == "2030-03-01T09:00:00Z"


def test_merge_keys_still_share_settings() -> None:
    text = ("version: 1\nprofiles:\n  - bundle_id: com.example.app\n    flow:\n"
            "      - &tf {step: send_to_testflight, xcode_version: 16.10}\n"
            "      - {<<: *tf, groups: [QA]}\n")
    steps = load_flow_text(text, "f.yml").profiles[0].flow
    assert steps[1].settings == {"xcode_version": "16.10", "groups": ["QA"]}


@pytest.mark.parametrize("word, meant", [("yes", "true"), ("on", "true"), ("no", "false"), ("Off", "false")])
def test_a_yaml_11_boolean_where_a_boolean_is_wanted_says_what_to_write(word: str, meant: str) -> None:
    with pytest.raises(FlowError) as caught:
        load_flow_text(flow(f"notify_testers: {word}"), "flow.yml")
    assert f"where {word} is text and only true and false are booleans: write {meant}" in str(caught.value)
