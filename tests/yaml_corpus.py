"""Flow-like YAML documents the composer tests read both ways (tests/unit/test_yaml_compose.py) and the scanner
tests compare with PyYAML's own scanner (tests/unit/test_yaml_scanner.py): the repository's flows, hostile and edge
documents, and seeded mutations of the flows."""

from __future__ import annotations

import functools
import random

from suite_paths import REPO

GOOD = ("version: 1\nprofiles:\n  - bundle_id: com.example.app\n    flow:\n"
        "      - step: send_to_testflight\n        groups: [QA]\n")


@functools.cache
def repository_flows() -> list[str]:
    paths = sorted({*REPO.glob("examples/**/*.y*ml"), *REPO.glob("tests/flows/**/*.y*ml")})
    return [path.read_text(encoding="utf-8") for path in paths]


def laughs(levels: int, in_keys: bool) -> str:
    first = '&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
    lines = [f"? {first}\n: 0" if in_keys else f"a: {first}"]
    for i in range(1, levels):
        value = f"&{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]"
        lines.append(f"? {value}\n: {i}" if in_keys else f"{chr(97 + i)}: {value}")
    return "\n".join(lines) + "\n"


HOSTILE = [
    "a: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "".join(" " * i + "a:\n" for i in range(600)),
    "".join(" " * i + "-\n" for i in range(600)),
    "a: " + "[" * 63 + "]" * 63 + "\n",
    "a: " + "[" * 64 + "]" * 64 + "\n",
    laughs(9, in_keys=True),
    "a: &a [*a]\n",
    "b: &m {x: 1}\nc:\n  ? *m\n  : 2\n",
    "? [a, b]\n: 1\n",
    "", "# nothing\n", "---\n", "--- |\n  text\n", "- a\n- b\n", "hello\n", "...\n",
    GOOD + "---\nversion: 1\n", GOOD + "        groups: [QA]\n", GOOD + '        xcode_version: "16.2\n',
    GOOD + "      bad: 1\n    worse: 2\n", GOOD + "        xcode_version: !!python/object/apply:os.system [ls]\n",
    GOOD + "        v: !!binary aGk=\n", GOOD + "        t: !!set {a@example.com}\n", GOOD + "        p: !!int abc\n",
    GOOD + "        p: 1e400\n        q: .inf\n        r: -.Inf\n        s: .nan\n        t: 0o17\n        u: 0x1F\n",
    GOOD + "        p: " + "9" * 5000 + "\n", GOOD + "        n: yes\n        o: no\n        x: 1:30\n        y: ~\n",
    GOOD + "        <<: 3\n", GOOD + "        a: *undefined\n", "a: &x 1\nb: &x 2\n", "%YAML 1.2\n---\na: 1\n",
    "%YAML 1.1\n%YAML 1.1\n---\na: 1\n", "%YAML 2.0\n---\na: 1\n", "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
    "a: ! 12\nb: ! '12'\nc: !!str 12\nd: !local x\ne: !<tag:yaml.org,2002:int> 3\nf: '12'\ng: \"1.5\"\n",
    "a: |\n  line\n   more\nb: >-\n  folded\n  text\n\nc: |+\n  kept\n\n", "a: 'it''s'\nb: \"\\u00e9\\x41\\N\"\n",
    "k" * 1024 + ": 1\n", "k" * 1025 + ": 1\n", "é" * 1000 + ": 1\n", "é" * 1030 + ": 1\n", "\U0001f600" * 600 + ": x\n",
    "a: 1\r\nb:\r\n  - x\r\n", "a: 1\rb: 2\r", "{a:1}\n", "[a:b, c: d]\n", "{a: b, c}\n", "[? a : b]\n", "{? a}\n",
    "a: b: c\n", "a: [\n", "a: {b\n", "- - - x\n  - y\n", "a:\n- x\n- y\n", "? a\n? b\n", ": x\n", "a: @x\n", "a: `x\n",
    "a: x #c\nb: y# not\n", "a: -\nb: - x\n", "a: [,]\n", "a: [x,,y]\n", "'a\n  b': 1\n", "a: \"x\n\n  y\"\n",
    "a: 'x' y\n", "&a a: 1\n*a : 2\n", "a: !!map\n  b: 1\n", "!!seq [1]\n", "a: !!float 1\nb: !!null ''\n",
    "a:\n  b: 1\n c: 2\n", "- a\nb: 1\n", "a: 1\n  b: 2\n", "a: |\n x\n  y\n z\n", "a: >\n\n\n", "a: |-\n",
    "a:\nb: 1\n", "a: [x: ]\n", "- \n- x\n", "a: &e\n", "!!str\n", "a: !\n", "! # c\n",
]

_DEEP = "nested more than 64 levels deep"
# Documents PyYAML's pure-Python path takes a tenth of a second or more to read: its answers, recorded, are compared.
# (5000 nested flow lists are not here: libyaml stops at its own nesting limit, so PyYAML reads them anyway; nor the
# billion laughs in values: tests/flows/bad/yaml-alias-bomb.yaml, compared both ways, is the same bound.)
PINNED = [
    ("a: " + "[{a: " * 1500 + "1" + "}]" * 1500, 1, 160, f"{_DEEP}; a flow needs a handful of levels: write it out flat"),
    ("\n".join(["a0: &a0 {x: 1}"] + [f"a{i}: &a{i} {{<<: *a{i - 1}}}" for i in range(1, 3000)]) + "\n", 1, 13,
     f"{_DEEP} (a recursive alias?); write the flow out without such aliases"),
]

# Each insertion is one thing parsers are known to read differently, or one the composer refuses.
INSERTS = ["\t", " \t", "\ufeff", "\x85", "\u2028", "\r", "\r\n", ":", ": ", "-", "- ", "? ", "#", " #", "[", "]",
           "{", "}", ",", "'", '"', "&a ", "*a", "!!int ", "! ", "!x ", "|", ">", "---\n", "...\n", "%", "@",
           "\\", "é", "\U0001f600", "\xa0", "  ", "\n", "\n  ", "<<: ", "0o", "1e3", "~", "null",
           "!", "&", "*", "=", ".", "0", "e", " - ", "\n- ", "\n? ", "\n...", "\n---", "{}", "[]", "''", '""']


def mutations(count: int, seed: int = 1518) -> list[str]:
    chooser = random.Random(seed)
    seeds = repository_flows()[:40] + [GOOD]
    found = []
    for _ in range(count):
        text = chooser.choice(seeds)
        for _ in range(chooser.randint(1, 3)):
            at = chooser.randrange(len(text) + 1)
            if chooser.random() < 0.25:
                text = text[:at] + text[at + chooser.randint(1, 4):]
            else:
                text = text[:at] + chooser.choice(INSERTS) + text[at:]
        found.append(text)
    return found
