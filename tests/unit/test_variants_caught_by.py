"""reconciler/variants.py CAUGHT_BY: every variant names where it is meant to be caught, each place
exists, and it agrees with the chaos experiments' own `broken_variant`."""
import pytest

from chaos import catalog
from ci.catches import experiments, grid_cells
from matrix.model import load
from reconciler.variants import CAUGHT_BY, VARIANTS

M = load()
CATALOG = catalog.load()
CELLS = {f"{app}-{event}" for app, event in M.cells}


def test_every_variant_and_only_those_says_where_it_is_caught():
    assert list(CAUGHT_BY) and set(CAUGHT_BY) == set(VARIANTS)


@pytest.mark.parametrize("variant", list(CAUGHT_BY))
def test_each_place_exists_and_has_a_reason(variant):
    catch = CAUGHT_BY[variant]
    assert catch.where and catch.why.strip()
    assert len(set(catch.where)) == len(catch.where)
    for cell in grid_cells(catch):
        assert cell in CELLS, f"{variant}: {cell} is no cell of the matrix"
    for name in experiments(catch):
        assert name in CATALOG, f"{variant}: chaos:{name} is no experiment"


def test_chaos_places_agree_with_each_experiments_broken_variant():
    """Each experiment runs against the variant its file names (tests/chaos); the table must list
    exactly those pairs, so make prove's chaos run is the one the table means."""
    table = {(v, e) for v, c in CAUGHT_BY.items() for e in experiments(c)}
    files = {(e.broken_variant, n) for n, e in CATALOG.items()}
    assert table == files


def test_the_seed_variants_are_caught_by_the_grid_and_the_chaos_ones_by_experiments():
    grid = {v for v, c in CAUGHT_BY.items() if grid_cells(c)}
    assert grid == {"fm1-companions-not-recreated", "fm2-rpcauth-not-rederived", "fm3-apps-in-daemon-cgroup",
                    "stop-timeout-10s", "install-success-before-healthy", "uninstall-leaves-unit",
                    "container-without-memory-limit", "unit-without-host-alias", "electrumx-without-dac-override",
                    "derived-configs-not-rederived", "failed-install-left-behind", "no-boot-order",
                    "no-release-rollback"}
    assert all(experiments(CAUGHT_BY[v]) for v in VARIANTS if v.startswith("chaos-"))
