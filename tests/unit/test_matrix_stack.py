"""Install stacks (matrix/stack.py): dependencies first, providers already present reused."""
import dataclasses

import pytest

from matrix.model import load
from matrix.stack import PlanError, provider, stack


@pytest.fixture(scope="module")
def m():
    return load()


def test_stack_puts_dependencies_first(m):
    assert stack(m, "mempool") == ["bitcoin-knots", "electrumx", "mempool"]
    assert stack(m, "btcpay") == ["bitcoin-knots", "lnd", "btcpay"]
    assert stack(m, "lnd", present=["bitcoin-core"]) == ["lnd"]


def test_provider_prefers_one_already_present(m):
    assert provider(m, "bitcoin", []) == "bitcoin-knots"
    assert provider(m, "bitcoin", ["bitcoin-core"]) == "bitcoin-core"


def test_a_capability_nobody_provides_is_a_plan_error(m):
    lnd = dataclasses.replace(m.apps["lnd"], depends=("nothing-provides-this",))
    broken = dataclasses.replace(m, apps={**m.apps, "lnd": lnd})
    with pytest.raises(PlanError, match="no app provides 'nothing-provides-this'"):
        stack(broken, "lnd")
