"""goss 0.4.9 `validate -f json` output parsing (harness/goss.py)."""
import json
from pathlib import Path

import pytest

from harness.goss import MAX_CONCURRENT, GossError, file_error, parse, validate_command

DATA = Path(__file__).parent / "data"


def _result(ok, rtype="Port", rid="tcp:8332", prop="listening", **kw):
    r = {"duration": 1000, "err": None, "meta": None, "property": prop, "resource-id": rid,
         "resource-type": rtype, "result": 0 if ok else 1, "successful": ok, "title": "",
         "matcher-result": {"actual": ok, "expected": True, "message": "to equal"}}
    r.update(kw)
    return r


def _doc(results):
    return json.dumps({"results": results, "summary": {"failed-count": sum(not r["successful"] for r in results),
                                                       "test-count": len(results), "total-duration": 1}})


def test_all_passing():
    rep = parse(_doc([_result(True), _result(True, "Service", "archy-lnd.service", "running")]))
    assert rep.ok and rep.tests == 2 and rep.failures == ()


def test_each_failing_resource_is_named():
    rep = parse(_doc([_result(True), _result(False, "Service", "archy-lnd.service", "running"),
                      _result(False, "HTTP", "http://127.0.0.1:9080/status", "status",
                              **{"matcher-result": {"actual": 503, "expected": 200, "message": "to equal"}})]))
    assert not rep.ok
    names = [f"{f.resource_type} {f.resource_id} {f.property}" for f in rep.failures]
    assert names == ["Service archy-lnd.service running", "HTTP http://127.0.0.1:9080/status status"]
    assert "found 503" in rep.summary()


def test_error_results_show_the_error():
    rep = parse(_doc([_result(False, "Command", "x", "exit-status", err="exec timed out", **{"matcher-result": None})]))
    assert "exec timed out" in str(rep.failures[0])


def test_skipped_results_are_not_failures():
    rep = parse(_doc([_result(True), {**_result(False), "result": 2, "skipped": True}]))
    assert rep.ok and rep.skipped == 1


def test_zero_tests_is_not_ok():
    assert not parse(_doc([])).ok


def test_last_document_wins_with_retries():
    out = _doc([_result(False)]) + "\n" + _doc([_result(True)])
    assert parse(out).ok


def test_a_retry_timeout_is_read_from_its_last_attempt():
    """goss -r's real output when the state never passes (seen on the rootless node): each attempt's
    document, "Retrying ..." between them, and a last line after the final document."""
    failing = _doc([_result(True), _result(False, "Addr", "tcp://127.0.0.1:8332", "reachable")])
    out = (_doc([_result(False)]) + "\nRetrying in 2s (elapsed/timeout time: 4.064s/1m0s)\n\n\nAttempt #2:\n"
           + failing + "\nError: timeout of 1m0s reached before tests entered a passing state\n")
    rep = parse(out)
    assert [f.resource_id for f in rep.failures] == ["tcp://127.0.0.1:8332"] and rep.tests == 2


def test_garbage_is_a_clear_error():
    with pytest.raises(GossError, match="unparsable goss output"):
        parse("Error: found 0 tests, source: /run/archy-goss/x.yaml")


@pytest.mark.parametrize("path", sorted(DATA.glob("goss-*.json")), ids=lambda p: p.name)
def test_recorded_real_output(path):
    """Output recorded from the real goss on the VM (see data/README)."""
    rep = parse(path.read_text())
    assert rep.tests > 0
    if "fail" in path.name:
        assert rep.failures and all(f.resource_id for f in rep.failures)
    else:
        assert rep.ok


@pytest.mark.parametrize("output, expected", [
    ('Error: template: test:8: unexpected "}" in end', 'goss/lnd.yaml:8: template error: unexpected "}" in end'),
    ('Error: template: test:3:10: executing "test" at <.Vars.app.uint>: map has no entry for key "uint"',
     'goss/lnd.yaml:3:10: template error: at <.Vars.app.uint>: map has no entry for key "uint"'),
    ("Error: yaml: line 4: did not find expected node content",
     "goss/lnd.yaml: YAML error at line 4 of the file as rendered with the node's vars: "
     "did not find expected node content"),
    ("Error: found 0 tests, source: /tmp/archy-goss.AbC12345/lnd.yaml", None),
])
def test_file_error(output, expected):
    """goss 0.4.9's messages for a bad file (rc 78, recorded) name the file and its line."""
    assert file_error("lnd.yaml", output) == expected


def test_goss_runs_a_few_checks_at_a_time_and_quotes_its_paths():
    cmd = validate_command("/run/archy goss/goss", "/tmp/v.json", "/tmp/a b.yaml", 60)
    assert cmd.startswith("'/run/archy goss/goss' --vars /tmp/v.json -g '/tmp/a b.yaml' validate -f json")
    assert f"--max-concurrent {MAX_CONCURRENT}" in cmd and 1 <= MAX_CONCURRENT <= 8
    assert cmd.endswith(" -r 60s -s 2s")
    assert " -r " not in validate_command("g", "v", "f", None)
