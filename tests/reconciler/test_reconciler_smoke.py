from recfake import converge


def test_install_bitcoin_converges(env):
    rec, fake = env
    res = rec.install("bitcoin-knots", timeout=5)
    assert res["healthy"] and "archy-bitcoin-knots.service" in res["units"]
    assert converge(rec, fake) == 0
