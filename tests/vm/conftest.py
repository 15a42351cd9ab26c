"""One VM for the whole session: the root conftest's `node` when it is a VMNode, else our own."""
import os

import pytest


def _progress(config):
    tr = config.pluginmanager.get_plugin("terminalreporter")
    return (lambda msg: tr.write_line(f"[vm] {msg}")) if tr else (lambda msg: None)


@pytest.fixture(scope="session")
def vm_node(request):
    from vm.node import VMNode
    try:
        shared = request.getfixturevalue("node")
    except (pytest.FixtureLookupError, pytest.skip.Exception):   # none, or it skips without --vm
        shared = None
    if isinstance(shared, VMNode):
        yield shared
        return
    import vm
    own = vm.launch(f"vmtest-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}", progress=_progress(request.config))
    try:
        yield own
    finally:
        own.destroy()


@pytest.fixture
def vm_progress(request):
    return _progress(request.config)
