"""The redaction corpus (node.redact): every secret form issue 20 lists, and its neighbours.
Each row: the text, the secret that must be gone, and text around it that must survive."""
import base64
import json
import os
import time
import xml.etree.ElementTree as ET

import pytest

from node.redact import MASK, binary, redact, redact_bytes, redact_json, redact_jsonl, redact_xml

PW = "Xk29pLmQ7vZt"               # a stand-in secret value
HEX_MAC = "0201036c6e6402f801030a10" + "9f" * 60
B64_MAC = "AgEDbG5kAvgBAwoQn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+f"
# PEM blocks are assembled here, from a marker and random bytes: no key-shaped text in the repo
PK = "PRIVATE " + "KEY"
PEM_BODY = base64.b64encode(os.urandom(39)).decode()

CORPUS = [
    # (id, text, secret, kept)
    ("rpcauth", f"rpcauth=archy:9f2c${PW}", f"9f2c${PW}", ["rpcauth=archy:"]),
    ("rpcauth-spaces", f"rpcauth = archy:salt{PW}", f"salt{PW}", ["rpcauth = archy:"]),
    ("rpcpassword", f"rpcpassword={PW}", PW, ["rpcpassword="]),
    ("rpcpass-lnd", f"bitcoind.rpcpass={PW}", PW, ["bitcoind.rpcpass="]),
    ("password-colon", f"password: {PW}", PW, ["password:"]),
    ("password-spaces", f"password = correct horse {PW}", "correct horse", ["password ="]),
    ("password-spaces-indented", f"    password = a b {PW}\nnext", "a b", ["    password =", "\nnext"]),
    ("env-export", f"export BITCOIN_RPCPASSWORD={PW}", PW, ["export BITCOIN_RPCPASSWORD="]),
    ("env-db-pass", f"DB_PASS={PW} ./start", PW, ["DB_PASS="]),
    ("env-postgres", f"POSTGRES_PASSWORD={PW}", PW, ["POSTGRES_PASSWORD="]),
    ("yaml-quoted", f'  password: "two {PW} words"', "two", ["  password:"]),
    ("yaml-list-item", f"  - PASSWORD: {PW} trailing words", "trailing words", ["  - PASSWORD:"]),
    ("ini-passphrase", f"wallet_passphrase = {PW}", PW, ["wallet_passphrase ="]),
    ("inline-password", f"connect failed (password={PW}) retrying", PW, ["connect failed (password=", ") retrying"]),
    ("inline-quoted", f"login user=archy password='{PW} x' ok", "x'", ["login user=archy password=", " ok"]),
    ("query-string", f"GET /login?user=archy&password={PW}&next=/ HTTP/1.1", PW, ["?user=archy&password=", "&next=/"]),
    ("perl-hash", f"{{ password => '{PW}' }}", PW, ["password =>"]),
    ("dict-repr", f"{{'user': 'archy', 'password': '{PW}'}}", PW, ["'user': 'archy'", "'password': "]),
    ("dict-repr-spaces", f"{{'password': 'hunter two {PW}'}}", "hunter two", ["'password': "]),
    ("dict-repr-escaped", f"{{'password': 'it\\'s {PW}'}}", "it\\'s", ["'password': "]),
    ("tuple-repr", f"('password', '{PW}')", PW, ["('password', "]),
    ("json-password", f'{{"user": "archy", "password": "{PW}"}}', PW, ['"user": "archy"', '"password": ']),
    ("json-rpcpass", f'{{"rpcpass": "{PW}"}}', PW, ['"rpcpass": ']),
    ("json-passphrase", f'{{"passphrase": "{PW} with spaces"}}', "with spaces", ['"passphrase": ']),
    ("json-credentials", f'{{"credentials": "archy:{PW}"}}', PW, ['"credentials": ']),
    ("json-escaped-quote", f'{{"password": "a\\"b{PW}"}}', PW, ['"password": ']),
    ("json-secret", f'{{"client_secret": "{PW}", "id": 7}}', PW, ['"client_secret": ', '"id": 7']),
    ("json-token", f'{{"access_token": "{PW}"}}', PW, ['"access_token": ']),
    ("json-number-pin", '{"pin": 1, "wallet_password": 83729164}', "83729164", ['"pin": 1']),
    ("json-rpcauth", f'{{"rpcauth": "archy:salt${PW}"}}', PW, ['"rpcauth": ']),
    ("json-mnemonic", f'{{"cipher_seed_mnemonic": ["abandon", "{PW}", "zoo"]}}', PW, ['"cipher_seed_mnemonic": ']),
    ("json-headers", f'{{"headers": {{"Authorization": "Bearer {PW}"}}}}', PW, ['"headers": ']),
    ("json-api-key", f'{{"x-api-key": "{PW}"}}', PW, ['"x-api-key": ']),
    ("json-macaroon", f'{{"admin_macaroon": "{PW}"}}', PW, ['"admin_macaroon": ']),
    ("curl-u", f"curl -sf -u archy:{PW} http://127.0.0.1:8332/", PW, ["curl -sf -u archy:", " http://127.0.0.1:8332/"]),
    ("curl-u-glued", f"curl -uarchy:{PW} http://x/", PW, ["curl -uarchy:", " http://x/"]),
    ("curl-user", f"curl --user 'archy:{PW}' http://x/", PW, ["curl --user 'archy:", " http://x/"]),
    ("curl-header", f'curl -H "Authorization: Bearer {PW}" http://x/', PW, ['curl -H "Authorization: Bearer ', '" http://x/']),
    ("bitcoin-cli-space", f"bitcoin-cli -rpcuser=archy -rpcpassword {PW} getblockcount", PW,
     ["bitcoin-cli -rpcuser=archy -rpcpassword ", " getblockcount"]),
    ("bitcoin-cli-eq", f"bitcoin-cli -rpcpassword={PW} getblockcount", PW, ["-rpcpassword=", " getblockcount"]),
    ("double-dash-password", f"app --password {PW} --verbose", PW, ["app --password ", " --verbose"]),
    ("passphrase-flag", f"lncli unlock --passphrase '{PW} x' now", "x'", ["lncli unlock --passphrase ", " now"]),
    ("token-flag", f"gh auth --token {PW}", PW, ["gh auth --token "]),
    ("sshpass", f"sshpass -p {PW} ssh root@node", PW, ["sshpass -p ", " ssh root@node"]),
    ("url-userinfo", f"DAEMON_URL=http://archy:{PW}@archy-bitcoin-knots:8332/", PW,
     ["DAEMON_URL=http://archy:", "@archy-bitcoin-knots:8332/"]),
    ("url-at-in-password", f"https://archy:p@ss{PW}@node.example/rpc", PW, ["https://archy:", "@node.example/rpc"]),
    ("url-slash-in-password", f"https://archy:a/b{PW}@node.example/rpc", PW, ["https://archy:", "@node.example/rpc"]),
    ("url-empty-user", f"redis://:{PW}@cache:6379/0", PW, ["redis://:", "@cache:6379/0"]),
    ("url-postgres", f"postgresql://btcpay:{PW}@db/btcpay?sslmode=disable", PW, ["postgresql://btcpay:", "@db/btcpay"]),
    ("pem-rsa", f"key:\n-----BEGIN RSA {PK}-----\n{PEM_BODY}\n{PW}\n-----END RSA {PK}-----\ndone",
     PEM_BODY, [f"key:\n-----BEGIN RSA {PK}-----", f"-----END RSA {PK}-----\ndone"]),
    ("pem-pkcs8", f"-----BEGIN {PK}-----\n{PEM_BODY}\n-----END {PK}-----", PEM_BODY,
     [f"-----BEGIN {PK}-----"]),
    ("pem-openssh", f"-----BEGIN OPENSSH {PK}-----\nb3BlbnNzaC1rZXktdjE{PW}\n-----END OPENSSH {PK}-----",
     PW, [f"-----END OPENSSH {PK}-----"]),
    ("pem-encrypted", f"-----BEGIN ENCRYPTED {PK}-----\n{PEM_BODY}\n-----END ENCRYPTED {PK}-----",
     PEM_BODY, [f"BEGIN ENCRYPTED {PK}"]),
    ("pem-truncated", f"tail of a log\n-----BEGIN EC {PK}-----\n{PEM_BODY}", PEM_BODY, [f"tail of a log\n"]),
    ("pem-json-escaped", f'"key": "-----BEGIN {PK}-----\\n{PEM_BODY}\\n-----END {PK}-----\\n", "x": 1',
     PEM_BODY, ['"x": 1']),
    ("pgp-private", f"-----BEGIN PGP {PK} BLOCK-----\n\n{PEM_BODY}\n-----END PGP {PK} BLOCK-----",
     PEM_BODY, [f"-----END PGP {PK} BLOCK-----"]),
    ("authorization-token", f"Authorization: token {PW}", PW, ["Authorization: token "]),
    ("authorization-bearer", f"authorization: Bearer {PW}", PW, ["authorization: Bearer "]),
    ("authorization-basic", f"Authorization: Basic YXJjaHk6{PW}==", PW, ["Authorization: Basic "]),
    ("authorization-digest", f'Authorization: Digest username="archy", response="{PW}"', PW, ["Authorization: Digest "]),
    ("authorization-bare", f"Authorization: {PW}", PW, ["Authorization: "]),
    ("proxy-authorization", f"Proxy-Authorization: Basic {PW}", PW, ["Proxy-Authorization: Basic "]),
    ("authorization-repr", f"{{'Authorization': 'token {PW}'}}", PW, ["{'Authorization': "]),
    ("cookie", f"Cookie: session={PW}; theme=dark", PW, ["Cookie: "]),
    ("cookie-second", f"Cookie: theme=dark; btcpay_session={PW}", PW, ["Cookie: "]),
    ("set-cookie", f"Set-Cookie: sid={PW}; Path=/; HttpOnly", PW, ["Set-Cookie: sid=", "; Path=/; HttpOnly"]),
    ("set-cookie-repr", f"{{'Set-Cookie': 'sid={PW}'}}", PW, ["{'Set-Cookie': "]),
    ("macaroon-header", f"Grpc-Metadata-macaroon: {HEX_MAC}", HEX_MAC, ["Grpc-Metadata-macaroon: "]),
    ("macaroon-bare-line", f"admin.macaroon:\n{HEX_MAC}\nend", HEX_MAC, ["admin.macaroon:\n", "\nend"]),
    ("macaroon-in-text", f"lncli --macaroon {HEX_MAC} getinfo", HEX_MAC, ["lncli --macaroon ", " getinfo"]),
    ("macaroon-hex-upper", f"{HEX_MAC.upper()}", HEX_MAC.upper(), []),
    ("macaroon-base64", f"macaroon b64 {B64_MAC} end", B64_MAC, ["macaroon b64 ", " end"]),
    ("macaroon-key", f"lnd_macaroon={PW}", PW, ["lnd_macaroon="]),
    ("api-key-header", f"X-Api-Key: {PW}", PW, ["X-Api-Key: "]),
    ("auth-token-header", f"X-Auth-Token: {PW}", PW, ["X-Auth-Token: "]),
    ("github-token", "pushed with ghp_" + "a1B2" * 9, "ghp_" + "a1B2" * 9, ["pushed with "]),
    ("aws-key-id", "aws_access_key_id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", ["aws_access_key_id "]),
    ("aws-secret", f"aws_secret_access_key = {PW}", PW, ["aws_secret_access_key ="]),
    ("tor-onion-key", f"ADD_ONION ED25519-V3:{'Q' * 86}== Port=80", "Q" * 86, ["ADD_ONION ED25519-V3:", " Port=80"]),
    ("private-key-field", f"private_key: {PW}", PW, ["private_key:"]),
]

UNCHANGED = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  goss-linux-amd64",   # sha256sum
    "image sha256:2a955f700f5b79316bf7a76c5aaf79b0c6de73d18c4c3e68a025e57d46a30dbe pulled",
    "6d7fe64e2a1d7c458d619bec0ecb3c551974728f7f6ba1492fa59d44c9284d40",                    # a bare sha256
    "archy: 12 cell result(s) -> results/cells.json (10 passed, 2 failed, 0 not run)",
    "rpcuser=archipelago",
    "POST http://127.0.0.1:5678/rpc/v1 -> 200",
    "ssh://root@node.example:22?known_hosts=kh",
    "git@github.com:archy/lifecycle.git",
    "http://host:8080/path?email=a@b.com",
    "podman login --password-stdin quay.io",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
    "lnd started, 3 errors=0; journal check: 0 errors",
    "Authorization required",
    "test_cell[lnd-fresh_install] PASSED",
]


@pytest.mark.parametrize("text,secret,kept", [r[1:] for r in CORPUS], ids=[r[0] for r in CORPUS])
def test_secret_is_gone_and_its_surroundings_stay(text, secret, kept):
    out = redact(text)
    assert secret not in out, out
    assert MASK in out
    for part in kept:
        assert part in out, f"{part!r} lost: {out!r}"
    assert redact(out) == out, "redaction is not idempotent"


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 60 and len({r[0] for r in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("text", UNCHANGED)
def test_non_secret_lines_stay_unchanged(text):
    assert redact(text) == text


def test_known_values_in_every_encoding():
    secret = 'p&ss<w"rd>/+ x'
    forms = [secret, json.dumps(secret)[1:-1], "p&amp;ss&lt;w&quot;rd&gt;/+ x", "p%26ss%3Cw%22rd%3E%2F%2B%20x"]
    out = redact(" | ".join(forms), [secret])
    assert out == " | ".join([MASK] * 4)
    assert redact("a short abc stays", ["abc"]) == "a short abc stays"      # too short to be a secret


def test_json_stays_valid_json():
    doc = {"cells": [{"reason": f"rpc: curl -u archy:{PW} failed", "password": PW, "n": 3,
                      "msg": f'key "password": "{PW}", rpcpassword={PW}\'"',
                      "parameters": [{"name": "rpcpassword", "value": PW}]}],
           "ok": True, "secrets_leaked": [], "token": ""}
    for indent in (None, 1):
        text = json.dumps(doc, indent=indent)
        out = redact_json(text, [])
        clean = json.loads(out)          # still JSON
        assert PW not in out
        c = clean["cells"][0]
        assert c["password"] == MASK and c["n"] == 3 and c["parameters"][0]["value"] == MASK
        assert c["reason"] == "rpc: curl -u archy:*** failed"
        assert clean["ok"] is True and clean["token"] == ""
        assert (out.count("\n") > 2) == (indent is not None)   # the layout kept


def test_json_without_a_secret_is_left_byte_for_byte():
    text = '{"a":  1, "b": "x"}\n'
    assert redact_json(text) == text


def test_json_lines_each_stay_json():
    text = f'{{"t": 1, "message": "rpcpassword={PW}"}}\nnot json password={PW}\n{{"t": 2}}\n'
    out = redact_jsonl(text)
    lines = out.splitlines()
    assert PW not in out and json.loads(lines[0])["message"] == "rpcpassword=***"
    assert lines[1] == "not json password=***" and json.loads(lines[2]) == {"t": 2}


def test_xml_stays_well_formed_with_escaped_secrets():
    secret = 'Zq8<1&"x"Wv0'
    text = ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="s"><testcase name="c">'
            f'<failure message="Failed: password={PW}">E  assert &quot;{secret.replace("&", "&amp;").replace("<", "&lt;")}'
            f'&quot; == 1</failure><system-out>{HEX_MAC}</system-out></testcase></testsuite></testsuites>')
    out = redact_xml(text, [secret])
    root = ET.fromstring(out.encode())
    failure = root.find(".//failure")
    assert failure.get("message") == "Failed: password=***"
    assert secret not in failure.text and MASK in failure.text
    assert root.find(".//system-out").text == MASK
    assert PW not in out and HEX_MAC not in out


def test_bytes_binary_skipped_and_others_by_their_kind():
    assert binary(b"\x89PNG\r\n\x1a\n\0\0") and redact_bytes(b"\x89PNG\0password=" + PW.encode(), "a.png") is None
    assert redact_bytes(b"nothing here", "a.txt") is None
    assert redact_bytes(f"x \xff password={PW}".encode("latin-1"), "log") == b"x \xff password=***"
    assert json.loads(redact_bytes(json.dumps({"password": PW}).encode(), "r.json")) == {"password": MASK}
    # named .json but not JSON (podman inspect's error): redacted as text
    assert redact_bytes(f"Error: password={PW}".encode(), "podman-inspect.json") == b"Error: password=***"


@pytest.mark.parametrize("text", ["a-" * 100_000, "x." * 100_000, "a://" * 50_000, '"' + "pass" * 50_000 + '"'],
                         ids=["dashes", "dots", "schemes", "quoted-word"])
def test_a_long_line_costs_linear_time(text):
    """Nested stars over a 200 KB serial-log line took minutes; the patterns are bounded."""
    t0 = time.monotonic()
    redact(text)
    assert time.monotonic() - t0 < 5
