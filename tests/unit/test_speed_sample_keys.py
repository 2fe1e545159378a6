"""The sample keys' precomputed primes (publish/sandbox/sample_keys.json) are the derivation's own answer, and the
samples read them instead of searching again: the search costs about a second a key in every process. The table is
checked here once, so the samples load its keys without OpenSSL's own check (~65 ms a key in every process)."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from publish.sandbox import sample_ipa

TABLE = json.loads(resources.files("publish.sandbox").joinpath("sample_keys.json").read_text(encoding="utf-8"))
E = 65537


def _probably_prime(n: int) -> bool:
    """Fermat's test to bases 2 and 3, not the derivation's Miller-Rabin: enough to catch a corrupted entry."""
    return all(pow(base, n - 1, n) == 1 for base in (2, 3))


def test_the_default_seed_s_entry_is_what_the_derivation_finds() -> None:
    p, q = sample_ipa.derive_primes(1)
    assert TABLE["primes"]["1"] == [format(p, "x"), format(q, "x")]


@pytest.mark.parametrize("seed", sorted(TABLE["primes"], key=int))
def test_every_entry_is_a_pair_of_distinct_1024_bit_primes_for_the_public_exponent(seed: str) -> None:
    p, q = (int(text, 16) for text in TABLE["primes"][seed])
    assert p != q and p.bit_length() == q.bit_length() == 1024 and (p * q).bit_length() == 2048
    assert (p - 1) % E and (q - 1) % E
    assert _probably_prime(p) and _probably_prime(q)
    key = sample_ipa._deterministic_rsa_key(int(seed))
    assert key.private_numbers().p == p
    # What OpenSSL's check of the key would catch shows here too: with a composite p or q the private exponent
    # and the CRT values are wrong, and the public half refuses the signature (verify raises).
    message = f"sample key {seed}".encode()
    key.public_key().verify(key.sign(message, padding.PKCS1v15(), hashes.SHA256()), message, padding.PKCS1v15(),
                            hashes.SHA256())


def test_a_seed_in_the_table_is_not_searched_for_and_a_key_is_made_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_search(seed: int, bits: int = 2048) -> tuple[int, int]:
        raise AssertionError(f"searched for the primes of seed {seed}")

    monkeypatch.setattr(sample_ipa, "derive_primes", no_search)
    make = sample_ipa._deterministic_rsa_key.__wrapped__  # type: ignore[attr-defined]
    assert make(7001).private_numbers().q == int(TABLE["primes"]["7001"][1], 16)
    assert sample_ipa._deterministic_rsa_key(3) is sample_ipa._deterministic_rsa_key(3)


def test_a_seed_outside_the_table_and_another_size_are_derived() -> None:
    assert "123456" not in TABLE["primes"]
    key = sample_ipa._deterministic_rsa_key(123456, bits=512)
    assert key.key_size == 512
    assert (key.private_numbers().p, key.private_numbers().q) == sample_ipa.derive_primes(123456, 512)


def test_a_table_entry_is_trusted_and_derived_primes_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    p, q = (int(text, 16) for text in TABLE["primes"]["1"])
    composite = q + 2
    assert not _probably_prime(composite)
    make = sample_ipa._deterministic_rsa_key.__wrapped__
    monkeypatch.setattr(sample_ipa, "_known_primes", lambda: {"5": [format(p, "x"), format(composite, "x")]})
    assert make(5).private_numbers().q == composite  # loaded as the table says: the table test is its check
    monkeypatch.setattr(sample_ipa, "derive_primes", lambda seed, bits=2048: (p, composite))
    with pytest.raises(ValueError, match="Invalid private key"):
        make(6)  # not in the table: OpenSSL checks what the derivation gave
