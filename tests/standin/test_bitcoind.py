"""bitcoind stand-in as a process: rpcauth over HTTP, flush + clean marker, unclean detection, monotonic chain."""
import signal
import time

from standin_support import VECTOR_PASSWORD, VECTOR_USER, rpc, wait_until


def test_rpc_accepts_core_vector_and_rejects_bad_credentials(bitcoind):
    port = bitcoind.ports["rpc"]
    status, reply = rpc(port, VECTOR_USER, VECTOR_PASSWORD, "getblockchaininfo")
    assert status == 200 and reply["error"] is None and reply["result"]["blocks"] >= 0
    assert reply["result"]["warnings"] == []
    for user, password in ((VECTOR_USER, "wrong"), ("someone", VECTOR_PASSWORD), ("", "")):
        assert rpc(port, user, password, "getblockcount") == (401, None)
    assert rpc(port, VECTOR_USER, VECTOR_PASSWORD, "nosuchmethod")[1]["error"]["code"] == -32601


def test_chain_grows_and_status_reports_it(bitcoind):
    first = bitcoind.status()
    assert first["healthy"] and first["chain_ok"] and first["unclean_shutdown"] is False
    grown = wait_until(lambda: (s := bitcoind.status())["chain_height"] >= first["chain_height"] + 3 and s,
                       what="three new blocks")
    assert grown["data_checksum"] != first["data_checksum"]


def test_sigterm_flushes_for_real_seconds_then_writes_marker(bitcoind):
    height = wait_until(lambda: bitcoind.status()["chain_height"] >= 2 and bitcoind.status()["chain_height"])
    took = bitcoind.stop()
    assert took >= 1.5, f"flush took only {took:.2f}s"
    assert (bitcoind.data / ".clean_shutdown").exists()
    bitcoind.start()
    status = bitcoind.status()
    assert status["unclean_shutdown"] is False and status["healthy"] is True
    assert status["chain_height"] >= height
    assert not (bitcoind.data / ".clean_shutdown").exists(), "marker must be consumed at start"


def test_sigkill_is_detected_as_unclean_then_reindexed(bitcoind):
    height = wait_until(lambda: bitcoind.status()["chain_height"] >= 2 and bitcoind.status()["chain_height"])
    bitcoind.kill()
    bitcoind.start()
    status = bitcoind.status()
    assert status["unclean_shutdown"] is True and status["healthy"] is False and status["state"] == "reindexing"
    assert rpc(bitcoind.ports["rpc"], VECTOR_USER, VECTOR_PASSWORD, "getblockcount")[1]["error"]["code"] == -28
    healthy = wait_until(lambda: (s := bitcoind.status())["healthy"] and s, what="reindex to finish")
    assert healthy["unclean_shutdown"] is True, "stays visible for the life of the process"
    assert healthy["chain_height"] >= height
    info = rpc(bitcoind.ports["rpc"], VECTOR_USER, VECTOR_PASSWORD, "getblockchaininfo")[1]["result"]
    assert any("Unclean shutdown" in w for w in info["warnings"])


def test_kill_mid_flush_is_unclean(bitcoind):
    bitcoind.signal(signal.SIGTERM)
    wait_until(lambda: "flushing chainstate" in bitcoind.log_text(), what="flush to begin")
    time.sleep(0.3)  # inside the 1.5 s flush window: this is the 10 s stop timeout's SIGKILL
    bitcoind.kill()
    assert not (bitcoind.data / ".clean_shutdown").exists()
    bitcoind.start()
    assert bitcoind.status()["unclean_shutdown"] is True


def test_height_never_goes_backwards_across_restarts(bitcoind):
    heights = []
    for _ in range(3):
        wait_until(lambda: bitcoind.status()["chain_height"] > (heights[-1] if heights else 0), what="a new block")
        heights.append(bitcoind.status()["chain_height"])
        bitcoind.stop()
        bitcoind.start()
        assert bitcoind.status()["chain_height"] >= heights[-1]
    assert heights == sorted(heights)


def test_corrupt_conf_refuses_to_start(standin):
    p = standin("bitcoind", start=False)
    (p.config / "bitcoin.conf").write_text("server=1\nrpcauth=a:b$c\n\x00\x17garbage line\n")
    p.start(wait=False)
    assert p.wait_exit(15) == 1
    assert "parse error on line 3" in p.log_text()


def test_low_disk_exits_like_bitcoind(standin):
    p = standin("bitcoind", env={"STANDIN_MIN_FREE_MB": str(10**12)}, start=False)
    p.start(wait=False)
    assert p.wait_exit(15) == 1
    assert "Disk space is too low" in p.log_text()


def test_stop_rpc_shuts_down_cleanly(bitcoind):
    status, reply = rpc(bitcoind.ports["rpc"], VECTOR_USER, VECTOR_PASSWORD, "stop")
    assert status == 200 and "stopping" in reply["result"]
    assert bitcoind.wait_exit(30) == 0
    assert (bitcoind.data / ".clean_shutdown").exists()
