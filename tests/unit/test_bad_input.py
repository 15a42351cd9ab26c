"""Every bad input, one table: node URLs, known_hosts and key files, durations, matrix files,
platform profiles, the gate's results file and experiment files. Each is refused with exactly
one line that names the problem (and where it is), never a traceback. The pytest options and
the CLIs, in a child process, are in tests/integration/test_bad_input_cli.py."""

import paramiko
import pytest

from chaos.run import ExperimentError, load_experiment, validate
from harness import results
from harness.duration import DurationError, parse_duration
from matrix.model import MatrixError
from matrix.model import load as load_matrix
from node import keyfiles
from node.api import NodeError
from node.platform import PLATFORM_DIR
from node.platform import load as load_platform
from node.target import check_files, parse, vm_name

from helpers import edit

ED = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
REFUSED = (NodeError, MatrixError, ExperimentError, DurationError)

URLS = {   # url -> what the line must say
    "ssh://h:0": "port '0' is not a port number (use 1..65535",
    "ssh://h:65536": "port '65536' is not a port number",
    "ssh://h:": "port '' is not a port number",
    "ssh://h:22x": "port '22x' is not a port number",
    "ssh://u@[::1]:0": "port '0' is not a port number",
    "ssh://h?connect_timeout=abc": "connect_timeout='abc' is not a number of seconds",
    "ssh://h?connect_timeout=0": "connect_timeout='0' is not a number of seconds",
    "ssh://h?connect_timeout=-5": "connect_timeout='-5' is not a number of seconds",
    "ssh://h?connect_timeout=nan": "connect_timeout='nan' is not a number of seconds",
    "ssh://h?connect_timeout=inf": "connect_timeout='inf' is not a number of seconds",
    "ssh://h?connect_timeout=": "connect_timeout='' is not a number of seconds",
    "ssh://h?disposable=maybe": "disposable='maybe' is not a boolean (use 1 or 0)",
    "ssh://h?bogus=1": "unknown parameter(s) bogus (known: ",
    "ssh://": "no host (expected ssh://user@host[:port])",
    "ssh://:22": "no host",
    "http://lab-node.example": "unknown scheme http://",
    "lab-node.example": "unknown scheme (none)",
    "vm://..": "VM name '..' must be 1-63 of a-z, 0-9 and '-'",
    "vm:///../x": "VM name '../x' must be",
    "vm://VM0": "VM name 'VM0' must be",
    "vm://vm0?key=/k": "unknown parameter(s) key (known: platform)",
    "ssh://h?platform=nope": "platform 'nope': no profile",
    "ssh://h?platform=Bad Name": "platform 'Bad Name': not a profile name",
    "ssh://root:hunter2@h": "ssh://root@h: a password in the URL is refused",
}

KNOWN_HOSTS = {   # file text -> what the line must say
    f"@cert-authority *.lan ssh-ed25519 {ED}": "kh:1: @cert-authority lines are not supported",
    f"@revoked * ssh-ed25519 {ED}": "kh:1: @revoked lines are not supported",
    "h ssh-ed25519 AAAAB": "kh:1: the key is not valid base64",
    f"h ssh-ed25519 {ED[:-3]}": "kh:1: the key is not valid base64",
    f"# pinned\n\nh ssh-ed25519 {ED}\nh2 ssh-ed25519 {ED}x": "kh:4: the key is not valid base64",
    f"|1|c2FsdA==|aGFzaA== ssh-ed25519 {ED}\n@cert-authority * ssh-ed25519 {ED}": "kh:2: @cert-authority",
}
LOADED = [f"h ssh-ed25519 {ED}", f"h ssh-rsa {ED}", f"h ssh-foo {ED}", "h", "h ssh-ed25519",
          "# @cert-authority * ssh-ed25519 AAAAB"]   # paramiko loads (or skips) these: so must we

DURATIONS = ["ten minutes", "-5m", "", "5x", "1h-30m"]

RESULTS = {   # a results document -> what the line must say
    "a list": ([1, 2], "not a results file (no 'cells' list)"),
    "version 99": ({"version": 99, "cells": []}, "unknown format version 99"),
    "a cell that is a number": ({"version": 1, "targets": [], "cells": [5]}, "cells[0] is int 5"),
    "a target without a name": ({"version": 1, "cells": [], "targets": [{"url": "x"}]}, "targets[0] has no name"),
    "cells an object": ({"version": 1, "cells": {"a": 1}}, "not a results file (no 'cells' list)"),
}

EXPERIMENTS = {   # an experiment -> what the line must say
    "empty": ({}, "an empty experiment is not an experiment"),
    "no description": ({"title": "t"}, "experiment requires a description"),
    "method not a list": ({"title": "t", "description": "d", "method": "x"}, "'method' must be a JSON list"),
}

EXPERIMENT_FILES = {   # file text -> what the line must say
    "{": "exp.json:1: invalid JSON",
    "[1]": "exp.json:1: an experiment is a JSON object",
}

MATRIX = {   # file, old, new -> what the line must say (after file:line)
    "needs not a list": ("events.yaml", "needs: [soak]", "needs: soak", "events.soak.needs: expected a list"),
    "two apps on one port": ("apps.yaml", "grpc: {port: 10009}", "grpc: {port: 8332}",
                             "port 8332 is also apps.bitcoin-knots.ports.rpc"),
    "not YAML": ("cells.yaml", "\n", "\n  - [\n", "cells.yaml"),
}

PROFILES = {   # old, new -> what the line must say
    "unknown scope": ("scope: user", "scope: global", "units.scope"),
    "unknown become": ("become: sudo -n", "become: su", "login.become"),
    "unknown template field": ('data: "{state_dir}/{app}/data"', 'data: "{stat_dir}/{app}/data"', "unknown field 'stat_dir'"),
    "gateway outside the subnet": ("gateway: 10.89.0.1", "gateway: 10.89.1.1", "is not a host of 10.89.0.0/24"),
    "root login on user units": ("user: archipelago", "user: root", "login.user: the apps are user units"),
}


def refusal(fn, *args) -> str:
    with pytest.raises(REFUSED) as e:
        fn(*args)
    return one_line(str(e.value))


def one_line(msg: str) -> str:
    assert msg and "\n" not in msg and "Traceback" not in msg, msg
    return msg


@pytest.mark.parametrize("url", URLS)
def test_node_url(url):
    msg = refusal(parse, url)
    assert URLS[url] in msg
    assert "hunter2" not in msg


@pytest.mark.parametrize("text", KNOWN_HOSTS, ids=range(len(KNOWN_HOSTS)))
def test_known_hosts_line(text):
    assert KNOWN_HOSTS[text] in one_line(keyfiles.known_hosts_problem(text, "kh"))


@pytest.mark.parametrize("text", LOADED)
def test_known_hosts_lines_paramiko_loads_pass(text):
    assert keyfiles.known_hosts_problem(text, "kh") is None


@pytest.mark.parametrize("text", [*KNOWN_HOSTS, *LOADED])
def test_refused_exactly_when_paramiko_cannot_load_the_file(tmp_path, text):
    (tmp_path / "kh").write_text(text + "\n")
    try:
        paramiko.HostKeys().load(str(tmp_path / "kh"))
        loads = True
    except paramiko.hostkeys.InvalidHostKey:
        loads = False
    assert (keyfiles.known_hosts_problem(text, "kh") is None) == loads


@pytest.mark.parametrize("what", ["known_hosts missing", "known_hosts a dir", "key missing", "key a dir"])
def test_key_files_are_named_before_connecting(tmp_path, what):
    (tmp_path / "kh").write_text(f"h ssh-ed25519 {ED}\n")
    kh = {"known_hosts missing": tmp_path / "nope", "known_hosts a dir": tmp_path}.get(what, tmp_path / "kh")
    key = {"key missing": tmp_path / "id_nope", "key a dir": tmp_path}.get(what)
    url = f"ssh://root@127.0.0.1:1?known_hosts={kh}" + (f"&key={key}" if key else "")
    msg = refusal(check_files, parse(url))
    named = key or kh
    assert f"{named}: cannot read it:" in msg and ("?key=PATH" if key else "ssh-keyscan") in msg


def test_a_bad_vm_name_in_the_environment_names_the_variable():
    assert one_line(refusal(vm_name, "../x", "ARCHY_VM_NAME")).startswith("ARCHY_VM_NAME: VM name '../x'")


@pytest.mark.parametrize("text", DURATIONS)
def test_duration(text):
    assert f"bad duration {text!r}: use e.g. 90s" in refusal(lambda t: parse_duration(t, zero_ok=True), text)


@pytest.mark.parametrize("what", RESULTS)
def test_results_file(what):
    doc, said = RESULTS[what]
    assert said in one_line(results.malformed(doc, versioned=True))


@pytest.mark.parametrize("what", EXPERIMENTS)
def test_experiment(what):
    exp, said = EXPERIMENTS[what]
    assert said in refusal(validate, exp, "x.json", {})


@pytest.mark.parametrize("text", EXPERIMENT_FILES)
def test_experiment_file(tmp_path, text):
    (tmp_path / "exp.json").write_text(text)
    assert EXPERIMENT_FILES[text] in refusal(load_experiment, tmp_path / "exp.json")


@pytest.mark.parametrize("what", MATRIX)
def test_matrix_file(matrix_copy, what):
    name, old, new, said = MATRIX[what]
    edit(matrix_copy / name, old, new)
    msg = refusal(load_matrix, matrix_copy)
    assert name in msg and said in msg


@pytest.mark.parametrize("what", PROFILES)
def test_platform_profile(tmp_path, what):
    old, new, said = PROFILES[what]
    f = tmp_path / "bad.yaml"
    f.write_text((PLATFORM_DIR / "reference.yaml").read_text().replace(old, new, 1))
    msg = refusal(load_platform, str(f))
    assert "bad.yaml:" in msg and said in msg


def test_a_missing_profile_file():
    assert "no profile /nonexistent/p.yaml" in refusal(load_platform, "/nonexistent/p.yaml")


def test_the_table_holds_at_least_50_bad_inputs():
    tables = (URLS, KNOWN_HOSTS, DURATIONS, RESULTS, EXPERIMENTS, EXPERIMENT_FILES, MATRIX, PROFILES)
    assert sum(map(len, tables)) + 4 + 1 + 1 >= 50
