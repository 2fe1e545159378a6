"""The query of the links the simulator writes (publish/sandbox/jsonapi.py Renderer.urlencoded) is spelt as
urlencode spells it, character by character; a text urllib leaves as it is is not handed to it, another only once."""

from __future__ import annotations

import random
import string
import urllib.parse
from typing import Any

import pytest

from publish.sandbox import jsonapi
from publish.sandbox.jsonapi import Renderer
from publish.sandbox.model import Store
from publish.sandbox.openapi import OpenApi


def _renderer() -> Renderer:
    return Renderer(OpenApi.packaged(), Store(0), "http://127.0.0.1:9")


ALPHABET = string.printable + "\x00\x1f\x7f\x80\xa0é€\u2028\U0001f600"


def test_every_character_is_quoted_as_urlencode_quotes_it() -> None:
    urlencoded = _renderer().urlencoded
    for code in range(0x300):
        pairs = [(chr(code), f"a{chr(code)}b"), ("k", chr(code) * 2)]
        assert urlencoded(pairs) == urllib.parse.urlencode(pairs), code


def test_any_query_reads_as_urlencode_writes_it() -> None:
    urlencoded = _renderer().urlencoded
    rng = random.Random(14)
    for _ in range(300):
        pairs = [("".join(rng.choices(ALPHABET, k=rng.randrange(8))), "".join(rng.choices(ALPHABET, k=rng.randrange(12))))
                 for _ in range(rng.randrange(1, 5))]
        assert urlencoded(pairs) == urllib.parse.urlencode(pairs), pairs
    odd: Any = [("limit", 200), (b"by\xfftes", "x y"), ("n", None)]
    assert urlencoded(odd) == urllib.parse.urlencode(odd)


def test_a_text_is_quoted_once_and_a_plain_one_never(monkeypatch: pytest.MonkeyPatch) -> None:
    quoted: list[str] = []

    def counting(text: str, *args: Any, **kwargs: Any) -> str:
        quoted.append(text)
        return urllib.parse.quote_plus(text, *args, **kwargs)

    monkeypatch.setattr(jsonapi, "quote_plus", counting)
    renderer = _renderer()
    pairs = [("filter[app]", "6446473985"), ("include", "preReleaseVersion,buildBetaDetail"), ("q", "a b/c"),
             ("cursor", "bzo1MA"), ("v", "1.0-b_2~")]
    for _ in range(3):
        assert renderer.url("/v1/builds", pairs) == ("http://127.0.0.1:9/v1/builds?filter%5Bapp%5D=6446473985"
                                                     "&include=preReleaseVersion%2CbuildBetaDetail&q=a+b%2Fc"
                                                     "&cursor=bzo1MA&v=1.0-b_2~")
    assert quoted == ["filter[app]", "preReleaseVersion,buildBetaDetail", "a b/c"]


def test_the_quoted_texts_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonapi, "QUOTED", 3)
    renderer = _renderer()
    for n in range(10):
        assert renderer.urlencoded([(f"k[{n}]", "x" * (jsonapi.QUOTED_TEXT + 1) + ",")]) == urllib.parse.urlencode(
            [(f"k[{n}]", "x" * (jsonapi.QUOTED_TEXT + 1) + ",")])
        assert len(renderer._quoted) <= 3 and all(len(text) <= jsonapi.QUOTED_TEXT for text in renderer._quoted)
