"""Pure parts of vm/: accelerator choice, cache keys, catalog rendering, reaping (no QEMU)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from vm import accel, golden, image, reaper
from vm.errors import VMError


def test_accel_prefers_tcg_on_kvm_pvm(tmp_path):
    kvm = tmp_path / "kvm"
    kvm.write_text("")
    mods = tmp_path / "module"
    (mods / "kvm_pvm").mkdir(parents=True)
    a = accel.detect(kvm, mods, override="")
    assert a.name == "tcg" and "kvm_pvm" in a.reason and "tcg,thread=single,tb-size=512" in a.args


def test_accel_uses_kvm_when_usable(tmp_path):
    kvm = tmp_path / "kvm"
    kvm.write_text("")
    (tmp_path / "module" / "kvm_intel").mkdir(parents=True)
    assert accel.detect(kvm, tmp_path / "module", override="").args == accel.KVM


def test_accel_without_dev_kvm(tmp_path):
    assert accel.detect(tmp_path / "absent", tmp_path, override="").name == "tcg"


def test_recipe_hash_changes_with_the_package_list(monkeypatch):
    h = image.recipe_hash()
    assert h == image.recipe_hash()
    monkeypatch.setattr(image, "PACKAGES", image.PACKAGES + ("htop",))
    assert image.recipe_hash() != h


def test_tree_hash_follows_content_not_bytecode(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    h = golden.tree_hash(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython-313.pyc").write_bytes(b"junk")
    assert golden.tree_hash(tmp_path) == h
    (tmp_path / "a.py").write_text("x = 2\n")
    assert golden.tree_hash(tmp_path) != h


def test_render_catalog_is_apps_yaml_as_json():
    repo = Path(__file__).resolve().parents[2]
    data = json.loads(golden.render_catalog(repo / "matrix" / "apps.yaml"))
    assert data["image"] == "localhost/archy-standin:1"
    assert "bitcoin-knots" in data["apps"] and "archy-bitcoin-ui" in data["companions"]


def test_render_catalog_names_file_and_line(tmp_path):
    bad = tmp_path / "apps.yaml"
    bad.write_text("apps:\n  x: [1,\n")
    with pytest.raises(VMError, match=r"apps.yaml:\d+"):
        golden.render_catalog(bad)


def test_reap_removes_run_of_dead_owner_and_keeps_live_ones(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "owner.json").write_text(json.dumps({"owner_pid": dead.pid, "owner_start": 1}))
    mine = tmp_path / "mine"
    mine.mkdir()
    reaper.write_owner(mine, detached=False, info={})
    said = []
    assert reaper.reap(said.append, root=tmp_path) == ["stale"]
    assert not stale.exists() and mine.exists()
    assert "reaped leftover VM stale" in said[0]


@pytest.mark.parametrize("name, golden_of", [
    ("reference", "reference"), ("reference-rootful", "reference-rootful"),
    ("archipelago", "reference"), (None, "reference"), ("/tmp/mine.yaml", "reference")])
def test_golden_profile_is_a_bundled_reference(name, golden_of):
    assert golden.golden_profile(name) == golden_of


def _fake_golden(root, name, **manifest):
    d = root / name
    d.mkdir()
    (d / "golden.state").write_text("")
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


def test_find_seed_takes_newest_golden_of_same_base_shape_and_profile(tmp_path, monkeypatch):
    monkeypatch.delenv(golden.FRESH_ENV, raising=False)
    base = image.BaseImage(tmp_path / "base-abc")
    shape, ref = golden._shape(), golden.REFERENCE_PROFILE
    _fake_golden(tmp_path, "golden-old", base="abc", shape=shape, saved_at=1, profile=ref)
    new = _fake_golden(tmp_path, "golden-new", base="abc", shape=shape, saved_at=2, profile=ref)
    _fake_golden(tmp_path, "golden-other-base", base="xyz", shape=shape, saved_at=3, profile=ref)
    _fake_golden(tmp_path, "golden-other-shape", base="abc", shape="kvm/1/1", saved_at=4, profile=ref)
    _fake_golden(tmp_path, "golden-base-x", base="abc", shape=shape, saved_at=5, base_only=True)
    rootful = _fake_golden(tmp_path, "golden-rootful", base="abc", shape=shape, saved_at=6,
                           profile="reference-rootful")
    _fake_golden(tmp_path, "golden-unprofiled", base="abc", shape=shape, saved_at=7)   # before one per profile
    assert golden.find_seed(base, tmp_path / "golden-target", "reference-rootful", root=tmp_path).dir == rootful
    # no golden of the profile yet: another profile's newest still saves the cold boot
    assert golden.find_seed(base, rootful, "reference-rootful", root=tmp_path).dir.name == "golden-unprofiled"
    assert golden.find_seed(base, exclude=tmp_path / "golden-target", root=tmp_path).dir == new
    assert golden.find_seed(base, exclude=new, root=tmp_path).dir.name == "golden-old"
    monkeypatch.setenv(golden.FRESH_ENV, "1")
    assert golden.find_seed(base, exclude=tmp_path / "golden-target", root=tmp_path) is None


# a real crash from this host's TCG guest (serial.log, trimmed)
CRASH_LOG = b"""[   12.000000] systemd[1]: Started ssh.service
[ 3666.128768] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI
[ 3666.131161] CPU: 1 UID: 0 PID: 1 Comm: systemd Not tainted 6.12.117+deb13-amd64 #1  Debian 6.12.117-1
[ 3666.141002] Kernel panic - not syncing: Fatal exception in interrupt
"""


def test_guest_crash_finds_the_first_crash_line_after_the_mark(tmp_path):
    from vm.machine import guest_crash
    log = tmp_path / "serial.log"
    assert guest_crash(log) is None                                  # no log yet
    log.write_bytes(b"[    1.0] Linux version 6.12\n[    2.0] systemd[1]: Reached target\n")
    assert guest_crash(log) is None
    mark = log.stat().st_size
    with open(log, "ab") as fh:
        fh.write(CRASH_LOG)
    assert guest_crash(log) == "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI"
    assert guest_crash(log, since=log.stat().st_size) is None        # a restore after the crash starts clean
    assert guest_crash(log, since=mark) is not None


def test_vmnode_names_the_crash_on_a_timeout(tmp_path, monkeypatch):
    from node.api import CommandTimeout
    from node.ssh import SSHNode
    from vm.errors import GuestCrashed
    from vm.node import VMNode

    calls = []

    def timed_out(self, cmd, timeout=60, input=None):
        calls.append(cmd)
        raise CommandTimeout(f"vm0: `{cmd}` timed out after {timeout}s")
    monkeypatch.setattr(SSHNode, "run", timed_out)
    node = object.__new__(VMNode)
    node.vm = type("FakeVM", (), {"serial_log": tmp_path / "serial.log"})()
    node.name, node._serial_mark, node.crash = "vm0", 0, None
    with pytest.raises(CommandTimeout) as e:
        node.run("true", timeout=5)
    assert not isinstance(e.value, GuestCrashed)                     # a plain timeout stays plain
    (tmp_path / "serial.log").write_bytes(CRASH_LOG)
    with pytest.raises(GuestCrashed, match=r"vm0: the guest kernel crashed: Oops: int3"):
        node.run("true", timeout=5)
    with pytest.raises(GuestCrashed):                                 # sticky: no more round trips
        node.run("true", timeout=5)
    assert len(calls) == 2


def test_crashwatch_reads_only_new_complete_lines(tmp_path):
    from vm.crashwatch import CrashWatch
    log = tmp_path / "serial.log"
    log.write_bytes(b"[ 1.0] Oops: an older boot's crash\n")
    w = object.__new__(CrashWatch)                                  # no thread: poll by hand
    w.serial_log, w.offset, w._tail = log, log.stat().st_size, ""
    assert w.poll() is None
    with open(log, "ab") as fh:
        fh.write(CRASH_LOG[:60])                                    # half a line: not judged yet
    assert w.poll() is None
    with open(log, "ab") as fh:
        fh.write(CRASH_LOG[60:])
    assert w.poll() == "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI"


def test_crashwatch_calls_back_within_seconds(tmp_path):
    import threading
    from vm.crashwatch import CrashWatch
    log = tmp_path / "serial.log"
    log.write_bytes(b"[ 1.0] booting\n")
    seen, done = [], threading.Event()
    w = CrashWatch(log, 0, lambda line: (seen.append(line), done.set()))
    try:
        with open(log, "ab") as fh:
            fh.write(CRASH_LOG)
        assert done.wait(5), "the watch did not notice the crash within 5 s"
        assert seen == ["Oops: int3: 0000 [#1] PREEMPT SMP NOPTI"] and w.crash == seen[0]
    finally:
        w.stop()


def test_tcg_threading_is_chosen_by_env(tmp_path, monkeypatch):
    monkeypatch.setenv(accel.TCG_THREAD_ENV, "single")
    assert "tcg,thread=single,tb-size=512" in accel.detect(tmp_path / "absent", tmp_path, override="").args
    monkeypatch.setenv(accel.TCG_THREAD_ENV, "many")
    with pytest.raises(VMError, match="ARCHY_VM_TCG='many': use one of multi, single"):
        accel.detect(tmp_path / "absent", tmp_path, override="")


@pytest.mark.parametrize("path, ok", [
    ("/opt/archipelago/reconciler", True), ("/opt/archipelago/x/y", True),
    ("/srv/a/b/c", False), ("/opt/other/reconciler", False), ("/opt/archipelagox/r", False),
    ("/", False), ("/opt", False), ("/opt/archipelago", False), ("/opt/archipelago/", False),
    ("/opt/x/../reconciler", False), ("/opt//archipelago/reconciler", False), ("/opt/./a/b", False),
    ("opt/archipelago/reconciler", False), ("~/archipelago/reconciler/x", False),
])
def test_the_code_dir_golden_replaces_is_normalized_and_inside_its_own_prefix(path, ok):
    if ok:
        assert golden.replaceable_code_dir(path) == path
    else:
        with pytest.raises(VMError, match="refusing to replace code dir"):
            golden.replaceable_code_dir(path)


def test_the_reference_profiles_code_dir_is_replaceable():
    from node.platform import load
    assert golden.replaceable_code_dir(load("reference").names.code_dir)
