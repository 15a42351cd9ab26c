"""Secrets never reach logs or reports: redact() masks known values and secret-shaped text."""
from io import StringIO

import pytest

from harness import artifacts
from harness.outputs import RedactingStream
from harness.artifacts import redact, register_secret


@pytest.mark.parametrize("text,expected", [
    ("rpcauth=archy:9f2c$0a1b2c3d4e", "rpcauth=archy:***"),
    ("rpcpassword=hunter2hunter2", "rpcpassword=***"),
    ("bitcoind.rpcpass=s3cret-pass", "bitcoind.rpcpass=***"),
    ('{"user": "archy", "password": "p4ss"}', '{"user": "archy", "password": "***"}'),
    ("DAEMON_URL=http://archy:p4ssw0rd@archy-bitcoin-knots:8332/", "DAEMON_URL=http://archy:***@archy-bitcoin-knots:8332/"),
    ("Authorization: Basic YXJjaHk6cGFzcw==", "Authorization: Basic ***"),
    ("Grpc-Metadata-macaroon: 0201036c6e64", "Grpc-Metadata-macaroon: ***"),
    ("lnd started, 3 errors=0", "lnd started, 3 errors=0"),
])
def test_patterns(text, expected):
    assert redact(text) == expected


def test_known_values_masked_everywhere(monkeypatch):
    monkeypatch.setattr(artifacts, "_known", set())
    register_secret("Zq81xWv0aa77")
    register_secret("abc")  # too short to be a secret: would mask ordinary words
    assert redact("leaked Zq81xWv0aa77 in a free-text line; abc stays") == "leaked *** in a free-text line; abc stays"
    assert redact("x=Zq81xWv0aa77y", extra=("notsecretvalue",)) == "x=***y"


def test_the_console_stream_redacts_with_the_secrets_known_at_each_write():
    known: list[str] = []
    out = RedactingStream(StringIO(), lambda: known)
    out.write("a Zq81xWv0aa77 b\n")          # not yet learned, not secret-shaped: printed as is
    known.append("Zq81xWv0aa77")
    out.write("a Zq81xWv0aa77 b, rpcpassword=x1\n")
    assert out.getvalue() == "a Zq81xWv0aa77 b\na *** b, rpcpassword=***\n"
