"""What no single field of apps.yaml shows: port clashes, dependency cycles, an app depending on or
conflicting with itself, one-sided conflicts, bad proxy_path templates. Each is one line naming
file:line (the line is where the needle sits after the edit) and what to change."""
import pytest

from matrix.model import MatrixError, load

from helpers import edit, line_of

LND_DEPENDS = "    depends: [bitcoin]\n    companions: [archy-lnd-ui]"
FIX_PORT = "give one of them another port (only conflicting apps may share one)"

# id -> (old text, new text, needle on the reported line, message after "file:line: ")
CASES = {
    "two apps on one port": (
        "grpc: {port: 10009}", "grpc: {port: 8332}", "grpc: {port: 8332}",
        f"apps.lnd.ports.grpc.port: port 8332 is also apps.bitcoin-knots.ports.rpc: {FIX_PORT}"),
    "one app, two ports alike": (
        "grpc: {port: 10009}", "grpc: {port: 8080}", "grpc: {port: 8080}",
        f"apps.lnd.ports.grpc.port: port 8080 is also apps.lnd.ports.rest: {FIX_PORT}"),
    "a companion on an app's port": (
        "ui: {port: 8081, ui: true}", "ui: {port: 9080, ui: true}", "port: 9080, ui: true",
        f"companions.archy-lnd-ui.ports.ui.port: port 9080 is also apps.lnd.ports.status: {FIX_PORT}"),
    "two companions on one port": (
        "ui: {port: 50002, ui: true}", "ui: {port: 8334, ui: true}  # clash", "# clash",
        f"companions.archy-electrs-ui.ports.ui.port: port 8334 is also "
        f"companions.archy-bitcoin-ui.ports.ui: {FIX_PORT}"),
    "dependency cycle": (
        LND_DEPENDS, "    depends: [bitcoin, btcpay]\n    companions: [archy-lnd-ui]", "depends: [bitcoin, btcpay]",
        "apps.lnd.depends: dependency cycle lnd -> btcpay -> lnd: no install order exists"),
    "cycle through a capability": (
        "    depends: []\n    companions: [archy-bitcoin-ui]\n    grace: bitcoin\n    profile: bitcoind",
        "    depends: [electrum]\n    companions: [archy-bitcoin-ui]\n    grace: bitcoin\n    profile: bitcoind",
        "depends: [electrum]",
        "apps.bitcoin-knots.depends: dependency cycle bitcoin-knots -> electrumx -> bitcoin-knots: "
        "no install order exists"),
    "depends on itself by id": (
        LND_DEPENDS, "    depends: [bitcoin, lnd]\n    companions: [archy-lnd-ui]", "depends: [bitcoin, lnd]",
        "apps.lnd.depends: lnd depends on itself ('lnd'): remove it from its own depends"),
    "depends on its own capability": (
        "    provides: electrum\n    depends: [bitcoin]", "    provides: electrum\n    depends: [electrum]",
        "depends: [electrum]",
        "apps.electrumx.depends: electrumx depends on itself ('electrum'): remove it from its own depends"),
    "conflicts with itself": (
        "conflicts: [bitcoin-core]", "conflicts: [bitcoin-core, bitcoin-knots]", "conflicts: [bitcoin-core, ",
        "apps.bitcoin-knots.conflicts: bitcoin-knots conflicts with itself: remove it from its own conflicts"),
    "one-sided conflict": (
        "conflicts: [bitcoin-knots]", "conflicts: []", "conflicts: [bitcoin-core]",
        "apps.bitcoin-knots.conflicts: one-sided conflict: bitcoin-knots conflicts with bitcoin-core but "
        "bitcoin-core's conflicts do not name bitcoin-knots: add it there"),
    "template with an unknown field": (
        "  proxy_path: /apps/{id}/", "  proxy_path: /apps/{name}/", "proxy_path: /apps/{name}/",
        "defaults.proxy_path: bad template '/apps/{name}/': unknown field {name}: the only field is {id}, "
        "the app's id"),
    "template with a stray brace": (
        "  proxy_path: /apps/{id}/", "  proxy_path: /apps/{id/", "proxy_path: /apps/{id/",
        "defaults.proxy_path: bad template '/apps/{id/': expected '}' before end of string"),
    "template with a single closing brace": (
        "  proxy_path: /apps/{id}/", "  proxy_path: /apps/id}/", "proxy_path: /apps/id}/",
        "defaults.proxy_path: bad template '/apps/id}/': Single '}' encountered in format string"),
    "an app's own template with attribute access": (
        "    goss: lnd.yaml\n", "    goss: lnd.yaml\n    proxy_path: /x/{id.upper}/\n", "/x/{id.upper}/",
        "apps.lnd.proxy_path: bad template '/x/{id.upper}/': unknown field {id.upper}: the only field is "
        "{id}, the app's id"),
    "a template with a conversion": (
        "    goss: lnd.yaml\n", "    goss: lnd.yaml\n    proxy_path: /x/{id!r}/\n", "/x/{id!r}/",
        "apps.lnd.proxy_path: bad template '/x/{id!r}/': unknown field {id!r}: the only field is {id}, "
        "the app's id"),
}


@pytest.mark.parametrize("old, new, needle, message", CASES.values(), ids=CASES.keys())
def test_refused_with_file_and_line(matrix_copy, old, new, needle, message):
    f = matrix_copy / "apps.yaml"
    edit(f, old, new)
    with pytest.raises(MatrixError) as e:
        load(matrix_copy)
    assert str(e.value) == f"{f}:{line_of(f, needle)}: {message}"


def test_the_shipped_matrix_passes():
    m = load()
    knots, core = m.apps["bitcoin-knots"], m.apps["bitcoin-core"]
    assert knots.port("rpc") == core.port("rpc")          # shared, and allowed: they conflict
    assert m.apps["lnd"].proxy_path == "/apps/lnd/"


def test_conflicting_apps_may_share_a_port(matrix_copy):
    f = matrix_copy / "apps.yaml"
    edit(f, "    depends: [electrum, bitcoin]", "    conflicts: [fedimint]\n    depends: [electrum, bitcoin]")
    edit(f, "    depends: [bitcoin]\n    companions: []\n    grace: default",
         "    conflicts: [mempool]\n    depends: [bitcoin]\n    companions: []\n    grace: default")
    edit(f, "api: {port: 8174}", "api: {port: 4080}")
    m = load(matrix_copy)
    assert m.apps["fedimint"].port("api") == m.apps["mempool"].port("ui") == 4080
