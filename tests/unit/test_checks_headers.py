"""Frame policy of the UI iframe cell (harness/checks/headers.py): pure header logic."""
import pytest

from harness.checks.headers import frame_ancestors, frame_policy_problems, parse_head

OK_HEAD = ("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Security-Policy: default-src 'self'; "
           "frame-ancestors 'self'\r\nX-Frame-Options: SAMEORIGIN\r\n\r\n")


def test_parse_head_takes_the_last_response():
    raw = "HTTP/1.1 100 Continue\r\n\r\n" + OK_HEAD
    r = parse_head(raw)
    assert r.status == 200
    assert r.get("x-frame-options") == ["SAMEORIGIN"]


def test_parse_head_rejects_garbage():
    with pytest.raises(ValueError, match="no HTTP status line"):
        parse_head("curl: (7) Failed to connect")


def test_same_origin_only_passes():
    assert frame_policy_problems(parse_head(OK_HEAD)) == []


@pytest.mark.parametrize("head, expected", [
    ("HTTP/1.1 200 OK\nServer: x\n\n", "any site may frame"),
    ("HTTP/1.1 200 OK\nX-Frame-Options: DENY\n\n", "X-Frame-Options is DENY"),
    ("HTTP/1.1 200 OK\nContent-Security-Policy: frame-ancestors *\n\n", "frame-ancestors is *"),
    ("HTTP/1.1 200 OK\nContent-Security-Policy: frame-ancestors 'self' https://evil.example\n\n",
     "https://evil.example"),
    ("HTTP/1.1 200 OK\nContent-Security-Policy: frame-ancestors 'none'\n\n", "'none'"),
    ("HTTP/1.1 200 OK\nX-Frame-Options: SAMEORIGIN\nX-Frame-Options: DENY\n\n", "conflicting"),
])
def test_policies_that_let_others_frame_or_block_the_dashboard_fail(head, expected):
    problems = frame_policy_problems(parse_head(head))
    assert problems and expected in " ".join(problems)


def test_csp_alone_or_xfo_alone_is_enough():
    assert frame_policy_problems(parse_head("HTTP/1.1 200 OK\nX-Frame-Options: sameorigin\n\n")) == []
    assert frame_policy_problems(parse_head(
        "HTTP/1.1 200 OK\nContent-Security-Policy: frame-ancestors 'self'\n\n")) == []


def test_frame_ancestors_across_headers():
    assert frame_ancestors(["default-src 'self'", "frame-ancestors 'self'"]) == [["'self'"]]
    assert frame_ancestors(["default-src 'self'"]) is None
