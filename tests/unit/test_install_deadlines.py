"""The client gives up after the node does: a node's failed install reaches the cell as the node's
own error ("did not become healthy"), not as a curl timeout that hides it."""
from harness.grid.context import Options
from node.driver import INSTALL_DEADLINE
from reconciler.daemon import INSTALL_TIMEOUT


def test_the_reference_answers_before_the_harness_gives_up():
    assert INSTALL_TIMEOUT + 30 <= INSTALL_DEADLINE
    assert Options().install_timeout == INSTALL_DEADLINE
