"""The Lambda authorizer: which tokens it lets through, and what it tells the functions.

Tokens are made here the way Cognito makes access tokens (RS256, `kid`, `iss`, `client_id`,
`token_use`, `cognito:groups`), with test keys; the pool's JWKS is served over HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from local_runtime import issuer, template
from local_runtime.handler_loader import load_handler
from shop.auth.authorizer import Authorizer, bearer_token, verifier_from
from shop.auth.tokens import (
    LOCAL_CLIENT_ID,
    LOCAL_ISSUER,
    JwksKeys,
    StaticKeys,
    TokenVerifier,
    public_key_from_parameter,
)
from shop.errors import TokenRefused
from tests.support.lambda_events import LambdaContext, sample

CLIENT_ID = "app-client-1"
NOW = 1_800_000_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def encode(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, {"kid": "pool-key-1"}, private=True)


@pytest.fixture(scope="module")
def other_key() -> RSAKey:
    return RSAKey.generate_key(2048, {"kid": "pool-key-1"}, private=True)


class Jwks:
    """A user pool's JWKS endpoint on 127.0.0.1, counting how often it is read."""

    def __init__(self, keys: list[RSAKey]) -> None:
        self.keys = keys
        self.reads = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.reads += 1
                if self.path != "/pool/.well-known/jwks.json":
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps({"keys": [k.as_dict(private=False) for k in jwks.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}/pool"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pool(key: RSAKey) -> Iterator[Jwks]:
    jwks = Jwks([key])
    yield jwks
    jwks.close()


def claims_for(issuer_url: str, sub: str = "user-1", **changes: Any) -> dict[str, Any]:
    claims = {
        "iss": issuer_url,
        "client_id": CLIENT_ID,
        "token_use": "access",
        "sub": sub,
        "cognito:groups": [],
        "scope": "aws.cognito.signin.user.admin",
        "iat": NOW - 60,
        "exp": NOW + 3600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def signed(key: RSAKey, claims: dict[str, Any], kid: str = "pool-key-1") -> str:
    return jwt.encode({"alg": "RS256", "kid": kid}, claims, key, algorithms=["RS256"])


@pytest.fixture
def verifier(pool: Jwks) -> TokenVerifier:
    return TokenVerifier(pool.issuer, CLIENT_ID, JwksKeys(f"{pool.issuer}/.well-known/jwks.json"), clock=lambda: NOW)


def refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenRefused) as refused:
        verifier.verify(token)
    return str(refused.value)


# ---------------------------------------------------------------- what is let through


def test_a_valid_access_token_names_its_caller(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    verified = verifier.verify(signed(key, claims_for(pool.issuer)))
    assert (verified.sub, verified.admin, verified.expires_at) == ("user-1", False, NOW + 3600)


def test_a_member_of_the_admin_group_is_an_admin(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    token = signed(key, claims_for(pool.issuer, **{"cognito:groups": ["staff", "admin"]}))
    assert verifier.verify(token).admin is True
    other = signed(key, claims_for(pool.issuer, **{"cognito:groups": ["staff", "administrators"]}))
    assert verifier.verify(other).admin is False


# ---------------------------------------------------------------- what is refused


def test_an_expired_token_is_refused(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    assert "expired" in refusal(verifier, signed(key, claims_for(pool.issuer, exp=NOW - 1)))
    assert "expired" in refusal(verifier, signed(key, claims_for(pool.issuer, exp=NOW)))
    assert verifier.verify(signed(key, claims_for(pool.issuer, exp=NOW + 1))).sub == "user-1"


def test_a_token_without_expiry_is_refused(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    assert "exp" in refusal(verifier, signed(key, claims_for(pool.issuer, exp=None)))


def test_a_token_of_another_issuer_is_refused(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    assert "iss" in refusal(verifier, signed(key, claims_for("https://cognito-idp.us-east-1.amazonaws.com/other")))
    assert "iss" in refusal(verifier, signed(key, claims_for(pool.issuer, iss=None)))


def test_a_token_for_another_app_client_is_refused(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    assert "client_id" in refusal(verifier, signed(key, claims_for(pool.issuer, client_id="another-client")))
    assert "client_id" in refusal(verifier, signed(key, claims_for(pool.issuer, client_id=None)))


def test_an_id_token_is_refused(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    """ID tokens name the client in `aud` and are for the client itself, not for the API."""
    id_token = claims_for(pool.issuer, client_id=None, token_use="id", aud=CLIENT_ID)
    assert refusal(verifier, signed(key, id_token))
    assert "token_use" in refusal(verifier, signed(key, claims_for(pool.issuer, token_use="id")))


def test_a_token_signed_with_another_key_is_refused(
    verifier: TokenVerifier, pool: Jwks, key: RSAKey, other_key: RSAKey
) -> None:
    """Same kid, same claims, another key: the signature does not verify."""
    assert "BadSignature" in refusal(verifier, signed(other_key, claims_for(pool.issuer)))


def test_a_token_with_alg_none_is_refused(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    claims = claims_for(pool.issuer, **{"cognito:groups": ["admin"]})
    for alg in ("none", "None", "NONE"):
        unsigned = encode({"alg": alg, "kid": "pool-key-1"}, claims)
        assert "not accepted" in refusal(verifier, f"{unsigned}.")
    # and with the RS256 signature of another token glued on
    real = signed(key, claims_for(pool.issuer))
    assert refusal(verifier, f"{encode({'alg': 'none'}, claims)}.{real.rsplit('.', 1)[1]}")


def test_an_hs256_token_signed_with_the_public_key_is_refused(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    """The classic confusion: HMAC keyed with the public key everyone can read."""
    public = RSAKey.import_key(key.as_dict(private=False))
    claims = claims_for(pool.issuer, **{"cognito:groups": ["admin"]})
    for secret in (public.as_pem(), json.dumps(public.as_dict()).encode(), b""):
        signing_input = encode({"alg": "HS256", "kid": "pool-key-1", "typ": "JWT"}, claims)
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert "not accepted" in refusal(verifier, f"{signing_input}.{b64(signature)}")


def test_a_token_without_a_subject_is_refused(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    assert "sub" in refusal(verifier, signed(key, claims_for(pool.issuer, sub=None)))
    for sub in ("", "a/b", "x" * 65, "user 1"):
        assert refusal(verifier, signed(key, claims_for(pool.issuer, sub=sub)))
    assert refusal(verifier, signed(key, claims_for(pool.issuer, sub=7)))


def test_a_subject_is_matched_whole_so_a_trailing_newline_is_refused(
    verifier: TokenVerifier, pool: Jwks, key: RSAKey
) -> None:
    assert verifier.verify(signed(key, claims_for(pool.issuer, sub="nl-user"))).sub == "nl-user"
    for sub in ("nl-user\n", "\nnl-user", "nl-user\r\n"):
        assert "sub" in refusal(verifier, signed(key, claims_for(pool.issuer, sub=sub)))


def test_groups_that_are_not_a_list_are_refused(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    assert "groups" in refusal(verifier, signed(key, claims_for(pool.issuer, **{"cognito:groups": "admin"})))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b.c",
        "a.b",
        "a.b.c.d",
        "..",
        "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
        "!!!.???.***",
        "x" * 10_000,
        "eyJhbGciOiJSUzI1NiJ9." + "A" * 200 + ".sig",
    ],
)
def test_garbage_is_refused(verifier: TokenVerifier, token: str) -> None:
    assert refusal(verifier, token)


def test_a_payload_that_is_not_an_object_is_refused(verifier: TokenVerifier, key: RSAKey) -> None:
    header = b64(json.dumps({"alg": "RS256", "kid": "pool-key-1"}).encode())
    for payload in ("[1]", '"text"', "null"):
        assert refusal(verifier, f"{header}.{b64(payload.encode())}.c2ln")


# ---------------------------------------------------------------- the pool's keys


def test_the_jwks_is_read_once_for_many_tokens(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    for n in range(5):
        assert verifier.verify(signed(key, claims_for(pool.issuer, sub=f"user-{n}"))).sub == f"user-{n}"
    assert pool.reads == 1


def test_a_rotated_key_is_fetched_and_an_unknown_kid_cannot_force_fetches(pool: Jwks, key: RSAKey) -> None:
    clock = [0.0]
    keys = JwksKeys(f"{pool.issuer}/.well-known/jwks.json", clock=lambda: clock[0])
    verifier = TokenVerifier(pool.issuer, CLIENT_ID, keys, clock=lambda: NOW)
    assert verifier.verify(signed(key, claims_for(pool.issuer))).sub == "user-1"
    rotated = RSAKey.generate_key(2048, {"kid": "pool-key-2"}, private=True)
    pool.keys = [key, rotated]
    token = signed(rotated, claims_for(pool.issuer), kid="pool-key-2")
    assert refusal(verifier, token)  # within a minute of the last read: not read again
    assert refusal(verifier, signed(rotated, claims_for(pool.issuer), kid="unknown"))
    assert pool.reads == 1
    clock[0] = 61.0
    assert verifier.verify(token).sub == "user-1"  # read again, the new key found
    assert pool.reads == 2


def test_an_unreachable_pool_refuses_without_raising(key: RSAKey) -> None:
    closed = Jwks([key])
    closed.close()
    verifier = TokenVerifier(closed.issuer, CLIENT_ID, JwksKeys(f"{closed.issuer}/.well-known/jwks.json"))
    assert "could not be read" in refusal(verifier, signed(key, claims_for(closed.issuer)))


# ---------------------------------------------------------------- the authorizer's answers


def event_with(authorization: str | None) -> dict[str, Any]:
    event = sample("authorizer_unsigned_token.json")
    event.pop("identitySource")
    event["headers"].pop("authorization")
    if authorization is not None:
        event["identitySource"] = [authorization]
        event["headers"]["authorization"] = authorization
    return event


def test_the_authorizer_answers_a_simple_response_with_the_callers_context(
    verifier: TokenVerifier, pool: Jwks, key: RSAKey
) -> None:
    authorizer = Authorizer(verifier, clock=lambda: NOW)
    admin = signed(key, claims_for(pool.issuer, sub="boss", **{"cognito:groups": ["admin"]}))
    assert authorizer(event_with(f"Bearer {admin}")) == (
        {"isAuthorized": True, "context": {"sub": "boss", "admin": True}},
        None,
    )
    user = signed(key, claims_for(pool.issuer))
    assert authorizer(event_with(f"bearer {user}"))[0] == {
        "isAuthorized": True,
        "context": {"sub": "user-1", "admin": False},
    }


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "abc"])
def test_the_authorizer_refuses_a_request_without_a_bearer_token(
    verifier: TokenVerifier, authorization: str | None
) -> None:
    answer, reason = Authorizer(verifier, clock=lambda: NOW)(event_with(authorization))
    assert answer == {"isAuthorized": False}
    assert reason == "no bearer token"


def test_the_authorizer_refuses_a_bad_token_without_raising(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    authorizer = Authorizer(verifier, clock=lambda: NOW)
    for token in ("garbage", signed(key, claims_for(pool.issuer, exp=NOW - 5)), "a.b.c"):
        answer, reason = authorizer(event_with(f"Bearer {token}"))
        assert answer == {"isAuthorized": False}
        assert reason and token not in reason


def test_the_token_is_read_from_the_headers_when_there_is_no_identity_source() -> None:
    assert bearer_token({"headers": {"Authorization": "Bearer abc"}}) == "abc"
    assert bearer_token({"headers": {"authorization": "Bearer  abc "}}) == "abc"
    assert bearer_token({"identitySource": ["Bearer xyz"], "headers": {"authorization": "Bearer abc"}}) == "xyz"
    assert bearer_token({}) is None


def test_a_verified_token_is_remembered_until_the_sooner_of_300_s_and_its_expiry(pool: Jwks, key: RSAKey) -> None:
    now = [float(NOW)]
    keys = JwksKeys(f"{pool.issuer}/.well-known/jwks.json")
    authorizer = Authorizer(TokenVerifier(pool.issuer, CLIENT_ID, keys, clock=lambda: now[0]), clock=lambda: now[0])
    long_lived = signed(key, claims_for(pool.issuer, exp=NOW + 3600))
    short_lived = signed(key, claims_for(pool.issuer, sub="user-2", exp=NOW + 100))
    for _ in range(3):
        assert authorizer(event_with(f"Bearer {long_lived}"))[0]["isAuthorized"] is True
        assert authorizer(event_with(f"Bearer {short_lived}"))[0]["isAuthorized"] is True
    assert authorizer.verifications == 2
    now[0] = NOW + 100  # the short-lived token expires now: not answered from memory
    assert authorizer(event_with(f"Bearer {short_lived}"))[0] == {"isAuthorized": False}
    assert authorizer(event_with(f"Bearer {long_lived}"))[0]["isAuthorized"] is True
    assert authorizer.verifications == 3
    now[0] = NOW + 300  # 300 s after the first verification: verified again
    assert authorizer(event_with(f"Bearer {long_lived}"))[0]["isAuthorized"] is True
    assert authorizer.verifications == 4


def test_refusals_are_not_remembered(verifier: TokenVerifier) -> None:
    authorizer = Authorizer(verifier, clock=lambda: NOW)
    for _ in range(3):
        assert authorizer(event_with("Bearer garbage"))[0] == {"isAuthorized": False}
    assert authorizer.verifications == 3


def test_the_memory_is_bounded(verifier: TokenVerifier, pool: Jwks, key: RSAKey) -> None:
    authorizer = Authorizer(verifier, clock=lambda: NOW, cache_entries=3)
    tokens = [signed(key, claims_for(pool.issuer, sub=f"u{n}")) for n in range(5)]
    for token in tokens:
        authorizer.caller(token)
    assert len(authorizer._cache) == 3
    assert list(authorizer._cache) == tokens[2:]


# ---------------------------------------------------------------- configuration: deployed and local


def test_deployed_the_pools_issuer_and_client_are_trusted() -> None:
    environ = {"TOKEN_ISSUER": "https://cognito-idp.ap-northeast-2.amazonaws.com/pool-1", "TOKEN_CLIENT_ID": "c1"}
    verifier = verifier_from(environ)
    assert (verifier.issuer, verifier.client_id) == (environ["TOKEN_ISSUER"], "c1")
    assert isinstance(verifier.key_source, JwksKeys)
    assert verifier.key_source.url == f"{environ['TOKEN_ISSUER']}/.well-known/jwks.json"


def test_the_local_key_is_trusted_only_under_sam_local(tmp_path: Path) -> None:
    parameter = issuer.public_key_parameter(tmp_path / "key.pem")
    deployed = verifier_from(
        {"TOKEN_ISSUER": "https://issuer", "TOKEN_CLIENT_ID": "c", "LOCAL_TOKEN_PUBLIC_KEY": parameter}
    )
    assert deployed.issuer == "https://issuer"
    assert isinstance(deployed.key_source, JwksKeys)
    local = verifier_from(
        {"TOKEN_ISSUER": "https://issuer", "LOCAL_TOKEN_PUBLIC_KEY": parameter, "AWS_SAM_LOCAL": "true"}
    )
    assert (local.issuer, local.client_id) == (LOCAL_ISSUER, LOCAL_CLIENT_ID)
    assert isinstance(local.key_source, StaticKeys)


def test_the_template_gives_the_local_key_no_value_unless_told() -> None:
    parameters = template.load()["Parameters"]
    assert parameters["LocalTokenPublicKey"]["Default"] == ""
    variables = template.resources("AWS::Serverless::Function")["AuthorizerFunction"]["Properties"]["Environment"]
    assert variables["Variables"]["LOCAL_TOKEN_PUBLIC_KEY"] == {"Ref": "LocalTokenPublicKey"}
    samconfig = (template.ROOT / "samconfig.toml").read_text()
    assert "LocalTokenPublicKey" not in samconfig


# ---------------------------------------------------------------- the local issuer


def test_a_local_token_verifies_with_the_local_key_and_says_who_and_whether_admin(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    keys = public_key_from_parameter(issuer.public_key_parameter(path))
    verifier = TokenVerifier(LOCAL_ISSUER, LOCAL_CLIENT_ID, StaticKeys(keys))
    assert (verifier.verify(issuer.issue("user-7", path=path)).sub, False) == ("user-7", False)
    verified = verifier.verify(issuer.issue("boss", admin=True, ttl=60, path=path))
    assert (verified.sub, verified.admin) == ("boss", True)
    assert verified.expires_at <= time.time() + 60
    expired = issuer.issue("user-7", ttl=60, now=time.time() - 61, path=path)
    assert "expired" in refusal(verifier, expired)
    other = tmp_path / "other.pem"
    assert "BadSignature" in refusal(verifier, issuer.issue("user-7", path=other))


def test_the_key_pair_is_made_once_even_by_racing_processes(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "key.pem"
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(issuer.private_key_pem(path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["key.pem"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    root = template.ROOT
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "layers" / "common"), str(root)])}
    return subprocess.run(list(args), cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_make_token_prints_only_the_token() -> None:
    made = run("make", "-s", "token", "USER=user-1", "ADMIN=1", "TTL=120")
    assert made.returncode == 0, made.stderr
    (line,) = made.stdout.splitlines()
    keys = public_key_from_parameter(issuer.public_key_parameter())
    verified = TokenVerifier(LOCAL_ISSUER, LOCAL_CLIENT_ID, StaticKeys(keys)).verify(line)
    assert (verified.sub, verified.admin) == ("user-1", True)
    assert verified.expires_at <= time.time() + 120


@pytest.mark.parametrize("args", [["--user", "a/b"], ["--user", "u", "--ttl", "0"], []])
def test_the_issuer_refuses_a_bad_request(args: list[str]) -> None:
    made = run(sys.executable, "-m", "local_runtime.issuer", *args)
    assert made.returncode == 2
    assert made.stdout == ""


# ---------------------------------------------------------------- the function as Lambda runs it


@pytest.fixture
def local_authorizer(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], Any]:
    monkeypatch.setenv("LOCAL_TOKEN_PUBLIC_KEY", issuer.public_key_parameter())
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    handler = load_handler("AuthorizerFunction")  # reads its environment when loaded
    return lambda event: handler(event, LambdaContext())


def test_the_function_lets_a_local_token_through_under_sam_local(local_authorizer: Callable[..., Any]) -> None:
    token = issuer.issue("user-1")
    assert local_authorizer(event_with(f"Bearer {token}")) == {
        "isAuthorized": True,
        "context": {"sub": "user-1", "admin": False},
    }
    assert local_authorizer(event_with("Bearer garbage")) == {"isAuthorized": False}
    assert local_authorizer(event_with(None)) == {"isAuthorized": False}


def test_deployed_the_function_refuses_a_local_token(monkeypatch: pytest.MonkeyPatch, pool: Jwks) -> None:
    monkeypatch.setenv("LOCAL_TOKEN_PUBLIC_KEY", issuer.public_key_parameter())
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    monkeypatch.setenv("TOKEN_ISSUER", pool.issuer)
    monkeypatch.setenv("TOKEN_CLIENT_ID", LOCAL_CLIENT_ID)
    handler = load_handler("AuthorizerFunction")
    assert handler(event_with(f"Bearer {issuer.issue('user-1')}"), LambdaContext()) == {"isAuthorized": False}
