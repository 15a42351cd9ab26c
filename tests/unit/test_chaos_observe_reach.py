"""The chaos steady state reaches every running app's published ports from the node (pure halves)."""
from chaos import observe


def test_reach_script_names_each_app_and_port():
    s = observe.reach_script({"bitcoin-knots": (8332, 9332), "archy-bitcoin-ui": (8334,)})
    assert "for ap in archy-bitcoin-ui:8334 bitcoin-knots:8332 bitcoin-knots:9332; do" in s
    assert 'timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p"' in s


def test_only_ports_that_did_not_answer_are_problems():
    out = "bitcoin-knots 8332 ok\nbitcoin-knots 9332 down\narchy-bitcoin-ui 8334 down\nnoise\n"
    assert observe.unreachable(out) == [
        "bitcoin-knots: port 9332 does not answer on the node (published port unreachable)",
        "archy-bitcoin-ui: port 8334 does not answer on the node (published port unreachable)"]
    assert observe.unreachable("lnd 9080 ok\n") == []
