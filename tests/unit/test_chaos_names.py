"""Chaos actions resolve the node's names themselves: the experiments name apps, not paths or images."""
import json

import pytest

from chaos import actions, memo
from node.api import CommandResult
from node.commands import ROOT
from node.names import ROOTFUL


class FakeNode:
    names = ROOTFUL
    cmd = ROOT

    def __init__(self):
        self.files = {ROOTFUL.catalog: json.dumps({"image": "localhost/archy-standin:1",
                                                     "apps": {"lnd": {}}}).encode()}
        self.cmds = []
        self.network_gone = False

    def get_file(self, path):
        return self.files[path]

    def put_file(self, path, data, mode=0o644):
        self.files[path] = data

    def succeed(self, cmd, timeout=60, input=None):
        self.cmds.append(cmd)
        self.network_gone |= cmd.startswith("podman network rm")
        return "sha256:0123456789abcdef\n"

    def run(self, cmd, timeout=60, input=None):
        self.cmds.append(cmd)
        gone = cmd.startswith("podman network exists") and self.network_gone
        return CommandResult(cmd, int(gone), "", "", 0.0)


@pytest.fixture
def node(monkeypatch):
    n = FakeNode()
    monkeypatch.setattr(actions.target, "node", lambda _configuration: n)
    monkeypatch.setattr(memo, "_facts", {})
    return n


def test_the_ota_defaults_to_the_catalog_image_tagged_2(node):
    assert actions.build_image({})["image"] == "localhost/archy-standin:2"
    assert node.files["/run/archy-chaos/image/Containerfile"] == \
        b"FROM localhost/archy-standin:1\nLABEL io.archipelago.chaos.version=2\n"
    assert actions.set_app_image({}, "lnd") == {"app": "lnd", "old": "localhost/archy-standin:1",
                                                "new": "localhost/archy-standin:2"}
    assert json.loads(node.files[ROOTFUL.catalog])["apps"]["lnd"]["image"] == "localhost/archy-standin:2"
    assert actions.wait_ota_in_flight({}, "lnd", timeout=1) == {"app": "lnd", "unit_image": "localhost/archy-standin:2"}
    assert node.cmds[-1] == "grep -qx 'Image=localhost/archy-standin:2' /etc/containers/systemd/archy-lnd.container"


def test_the_network_defaults_to_the_platforms(node):
    assert actions.revoke_network({}) == {"removed": "archy"}
    assert node.cmds[:2] == ["podman network exists archy", "podman network rm -f archy"]


@pytest.mark.parametrize("action", [actions.remove_file, actions.corrupt_file])
def test_a_file_outside_the_platform_dirs_is_refused_before_any_command(node, action):
    from chaoslib.exceptions import InterruptExecution
    with pytest.raises(InterruptExecution, match="outside the platform's own dirs"):
        action({}, "{state_dir}/../../../etc/passwd")
    with pytest.raises(InterruptExecution, match="outside the platform's own dirs"):
        action({}, "/etc/passwd")
    assert node.cmds == []
