"""The one writer and remover of a stand-in's fault file on the node (node/faults.py)."""
import pytest

from node.faults import fault_path, set_fault
from node.names import Names

NAMES = Names(apps=("bitcoin-knots", "lnd"))


def test_the_fault_file_of_a_known_app_is_in_its_data_dir():
    assert fault_path(NAMES, "lnd") == "/var/lib/archipelago/apps/lnd/.standin-fault"


@pytest.mark.parametrize("app", ["../../etc", "lnd/../../x", "", "/etc", "mempool", "LND"])
def test_anything_but_a_known_app_id_is_refused_before_the_shell(app):
    with pytest.raises(ValueError, match="refusing"):
        fault_path(NAMES, app)


def test_a_data_template_that_leaves_the_data_dir_is_refused():
    odd = Names(apps=("lnd",), data_template="relative/{app}")
    with pytest.raises(ValueError, match="refusing"):
        fault_path(odd, "lnd")


class Recorder:
    names = NAMES

    def __init__(self, cmd):
        self.cmd, self.commands, self.files = cmd, [], {}

    def succeed(self, cmd, timeout=60):
        self.commands.append(cmd)
        return ""

    def put_file(self, remote, data, mode=0o644):
        self.files[remote] = data


def test_it_is_removed_as_root_as_put_file_wrote_it():
    from node.commands import Commands
    node = Recorder(Commands(root="sudo -n "))
    set_fault(node, "lnd", "exit-at-start")
    set_fault(node, "lnd", None)
    assert node.files == {"/var/lib/archipelago/apps/lnd/.standin-fault": b"exit-at-start\n"}
    assert node.commands == ["sudo -n rm -f /var/lib/archipelago/apps/lnd/.standin-fault"]
    with pytest.raises(ValueError):
        set_fault(node, "../lnd", None)
    assert len(node.commands) == 1
