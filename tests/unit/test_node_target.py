"""node.target: the URL a child process is given reads back as the same target; vm:// needs a hook."""
from types import SimpleNamespace

import pytest

from node import capabilities, platform
from node.names import REFERENCE
from node.target import TargetError, connect, of_node, parse, to_url, with_keys


@pytest.mark.parametrize("url", [
    "ssh://admin@lab-node.example:2222?disposable=1&key=/keys/id_ed25519&known_hosts=/tmp/kh",
    "ssh://root@127.0.0.1:40022?disposable=1&known_hosts=/run/vm0/known_hosts&key=/cache/id&name=vm0",
    "ssh://node.lan",
    "ssh://a@h?name=lab&connect_timeout=2.5",
    "vm://vm3",
])
def test_to_url_reads_back_as_the_same_target(url):
    t = parse(url)
    assert parse(to_url(t)) == t


def test_a_vm_node_becomes_the_ssh_url_dev_and_fleet_always_passed():
    vm = SimpleNamespace(url="ssh://root@127.0.0.1:40022", name="fleet0", disposable=True,
                         capabilities=capabilities.VM, hostname="127.0.0.1", port=40022, user="root",
                         known_hosts="/tmp/runs/fleet0/known_hosts", identity_file="/c/id_ed25519",
                         connect_timeout=30, platform=platform.load())
    assert to_url(of_node(vm)) == ("ssh://root@127.0.0.1:40022?disposable=1&known_hosts=/tmp/runs/fleet0/known_hosts"
                                   "&key=/c/id_ed25519&name=fleet0")


def test_capabilities_are_written_once():
    assert parse("vm://vm0").capabilities == capabilities.VM
    assert parse("ssh://h").capabilities == capabilities.SSH
    assert parse("ssh://h?disposable=1").capabilities == capabilities.SSH | {"destructive"}


def test_with_keys_overrides_only_what_is_given():
    t = parse("ssh://h?known_hosts=/a&key=/b")
    assert (with_keys(t, "/c").known_hosts, with_keys(t, "/c").identity_file) == ("/c", "/b")
    assert with_keys(t) == t


def test_vm_targets_go_through_the_callers_hook():
    with pytest.raises(TargetError, match="vm://vm0: the embedded VM cannot be reached from here"):
        connect(parse("vm://vm0"))
    assert connect(parse("vm://vm7"), vm=lambda t: f"launched {t.name}") == "launched vm7"


def test_the_platform_comes_from_the_url_then_the_caller_then_the_environment(monkeypatch):
    monkeypatch.delenv("ARCHY_PLATFORM", raising=False)
    assert parse("ssh://h").platform.name == "reference"
    assert parse("ssh://h", "archipelago").platform.name == "archipelago"
    assert parse("ssh://h?platform=reference", "archipelago").platform.name == "reference"
    monkeypatch.setenv("ARCHY_PLATFORM", "archipelago")
    assert parse("vm://vm0").platform.name == "archipelago"
    t = parse("ssh://h?platform=reference")
    assert parse(to_url(t)) == t and "platform=reference" in to_url(t)


def test_without_a_user_the_login_is_the_profiles():
    t = parse("ssh://h?platform=archipelago")
    assert (t.login, parse("ssh://me@h?platform=archipelago").login) == ("archipelago", "me")
    assert parse("ssh://h", "reference").login == parse("ssh://h", "reference-rootful").login == "archipelago"


def test_an_unknown_platform_is_one_line():
    with pytest.raises(TargetError, match=r"ssh://h\?platform=nope: platform 'nope': no profile"):
        parse("ssh://h?platform=nope")
