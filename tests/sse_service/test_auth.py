"""User tokens: verified once, remembered until they expire, never past it."""

from __future__ import annotations

import time

import jwt
import pytest

from sse_service.auth import AuthError, TokenVerifier, bearer_token, mint_token
from sse_service.config import load_settings

SECRET = "unit-secret-0123456789abcdef0123456789"


def verifier(**overrides) -> TokenVerifier:
    return TokenVerifier(load_settings(env={}, overrides={"jwt_secret": SECRET, "publish_token": "pub", **overrides}))


def test_a_remembered_token_still_stops_working_when_it_expires() -> None:
    v = verifier()
    token = mint_token(SECRET, "u", ttl=1)
    assert v.user(token).subject == "u"
    assert v.user(token).subject == "u"  # served from memory now
    deadline = time.monotonic() + 5
    while True:  # wall-clock expiry: poll for it
        try:
            v.user(token)
        except AuthError as exc:
            assert "expired" in str(exc)
            break
        assert time.monotonic() < deadline, "an expired token kept working"
        time.sleep(0.05)


def test_remembered_user_tokens_without_scopes_share_one_empty_scope_set() -> None:
    # each remembered token held its own empty frozenset (216 bytes, walked by every full collection)
    v = verifier()
    first, second = v.user(mint_token(SECRET, "u1")), v.user(mint_token(SECRET, "u2", scp=[]))
    assert first.scopes == second.scopes == frozenset() and first.scopes is second.scopes
    assert v.user(mint_token(SECRET, "u3", scope="publish")).scopes == {"publish"}


def test_remembered_tokens_keep_no_token_text_and_a_tampered_token_is_not_taken_for_one() -> None:
    # each open stream's token text (~200 bytes) was kept as the key of its remembered identity
    v = verifier()
    token = mint_token(SECRET, "u1")
    assert v.user(token).subject == "u1"
    assert v.user(token).subject == "u1"  # served from memory
    assert not any(isinstance(key, str) or token.encode() in key for key in v._verified)
    header, payload, signature = token.split(".")
    with pytest.raises(AuthError):
        v.user(f"{header}.{payload}.{signature[:-2]}AA")


def test_tokens_with_audience_and_issuer_are_checked_when_configured() -> None:
    v = verifier(jwt_audience="notify", jwt_issuer="https://id.example")
    good = mint_token(SECRET, "u", aud="notify", iss="https://id.example")
    assert v.user(good).subject == "u"
    for bad in (mint_token(SECRET, "u", aud="other", iss="https://id.example"), mint_token(SECRET, "u")):
        with pytest.raises(AuthError):
            v.user(bad)


def test_rs256_tokens_verify_with_a_public_key(tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "key.pem").write_bytes(pem)
    v = verifier(jwt_public_key=str(tmp_path / "key.pem"), jwt_audience="notify")
    token = jwt.encode({"sub": "r", "aud": "notify", "exp": int(time.time()) + 60}, key, algorithm="RS256")
    assert v.user(token).subject == "r"
    with pytest.raises(AuthError):
        v.user(mint_token(SECRET, "r", aud="notify"))  # HS256 is not accepted once a public key is set


def test_publisher_needs_the_static_token_or_the_publish_scope() -> None:
    v = verifier()
    assert v.publisher("pub").scopes == {"publish"}
    assert v.publisher(mint_token(SECRET, "svc", scope="a publish")).subject == "svc"
    with pytest.raises(AuthError):
        v.publisher(mint_token(SECRET, "svc", scope="admin"))


@pytest.mark.parametrize(
    "header, query, expected",
    [
        ("Bearer abc", None, "abc"),
        ("bearer abc ", None, "abc"),
        (None, "q", "q"),
        ("Basic x", "q", None),
        (None, None, None),
    ],
)
def test_bearer_token_sources(header, query, expected) -> None:
    assert bearer_token(header, query) == expected


def signed_raw(payload: str, secret: str = SECRET) -> str:
    """A HS256 token over exactly this JSON text (numbers no JSON encoder would write)."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(payload.encode())
    signature = b64(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode()


@pytest.mark.parametrize("exp", ["1" + "0" * 400, "-" + "9" * 400, "1e400", "NaN", "Infinity", '"soon"'])
def test_an_exp_no_float_can_hold_is_an_invalid_token(exp: str) -> None:
    v = verifier()
    token = signed_raw('{"sub": "u", "exp": %s, "scope": "publish admin"}' % exp)
    for check in (v.user, v.publisher, v.admin):
        with pytest.raises(AuthError):
            check(token)
