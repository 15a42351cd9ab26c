"""node/deletion.py: the one recursive delete stays strictly inside its root; Allure's dir loses
only Allure's files; VM names that could name a path are refused before they reach it."""
import os
from pathlib import Path

import pytest

from node import deletion
from chaos import summary
from ci import grid_run
from node.deletion import DeletionRefused, checked, clear_allure, safe_rmtree, safe_unlink
from node.target import TargetError, parse, vm_name
from vm import reaper


@pytest.fixture
def tree(tmp_path):
    """tmp/root (the owned root) with a dir and links in it, and tmp/outside beside it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "run" / "sub").mkdir(parents=True)
    (root / "other").mkdir()
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    (root / "link-out").symlink_to(outside)
    (root / "link-in").symlink_to(root / "other")
    (root / "link-root").symlink_to(root)
    return root


# (case, path relative to tmp/root as a string, refused?)
PATHS = [
    ("a dir inside", "run", False),
    ("a nested dir", "run/sub", False),
    ("`..` that stays inside", "run/../other", False),
    ("a symlink to a dir inside", "link-in", False),
    ("`..` out of the root", "../outside", True),
    ("`..` deep out of the root", "run/sub/../../../outside", True),
    ("a symlink pointing out", "link-out", True),
    ("a path under a symlink out", "link-out/precious", True),
    ("the root itself", ".", True),
    ("the root through `..`", "run/..", True),
    ("the root through a symlink", "link-root", True),
    ("the parent of the root", "..", True),
    ("/", "/", True),
    ("/tmp", "/tmp", True),
    ("a vm://.. name joined to the root", "..", True),
    ("an ARCHY_VM_NAME=../x joined to the root", "../x", True),
]


@pytest.mark.parametrize("case,rel,refused", PATHS, ids=[p[0] for p in PATHS])
def test_the_path_guard(tree, case, rel, refused):
    path = tree / rel          # an absolute `rel` ("/") replaces the root, as Path does
    if refused:
        with pytest.raises(DeletionRefused, match=r"^refusing to delete .*: it resolves to .*not inside"):
            checked(path, within=tree)
    else:
        assert checked(path, within=tree) == Path(os.path.realpath(path))


def test_a_relative_path_is_resolved_against_the_working_dir(tree, monkeypatch):
    monkeypatch.chdir(tree.parent / "outside")
    with pytest.raises(DeletionRefused):
        checked("precious", within=tree)
    monkeypatch.chdir(tree)
    assert checked("run", within=tree) == tree / "run"


@pytest.mark.parametrize("root", ["/", "~", "~/.."], ids=["fs root", "home", "above home"])
def test_a_root_too_wide_to_own_is_refused(root, tmp_path):
    wide = Path(os.path.expanduser(root))
    with pytest.raises(DeletionRefused, match="too wide to own"):
        checked(wide / "anything", within=wide)


def test_safe_rmtree_deletes_inside_and_leaves_outside_untouched(tree):
    safe_rmtree(tree / "run", within=tree)
    assert not (tree / "run").exists() and (tree / "other").is_dir()
    safe_rmtree(tree / "run", within=tree)                 # already gone: fine
    for bad in (tree / "link-out", tree / ".." / "outside", tree):
        with pytest.raises(DeletionRefused):
            safe_rmtree(bad, within=tree)
    assert (tree.parent / "outside" / "precious").read_text() == "keep me"
    assert tree.is_dir()


def test_safe_rmtree_does_not_follow_a_symlink_out_below_the_path(tree):
    (tree / "run" / "sub" / "escape").symlink_to(tree.parent / "outside")
    safe_rmtree(tree / "run", within=tree)
    assert not (tree / "run").exists()
    assert (tree.parent / "outside" / "precious").read_text() == "keep me"


def test_safe_rmtree_refuses_a_dir_with_mounts(tree, tmp_path, monkeypatch):
    mounts = tmp_path / "mounts"
    mounts.write_text(f"proc {tree / 'run' / 'sub'} proc rw 0 0\n")
    monkeypatch.setattr(deletion, "MOUNTS", str(mounts))
    with pytest.raises(DeletionRefused, match=r"still mounted: .*run/sub \(umount them first\)"):
        safe_rmtree(tree / "run", within=tree)
    assert (tree / "run" / "sub").is_dir()


def test_safe_unlink_deletes_one_file_inside_and_nothing_outside(tree):
    (tree / "run" / "cells.json").write_text("{}")
    safe_unlink(tree / "run" / "cells.json", within=tree)
    assert not (tree / "run" / "cells.json").exists()
    safe_unlink(tree / "run" / "cells.json", within=tree)           # already gone: fine
    for bad in (tree / "link-out" / "precious", tree / ".." / "outside" / "precious"):
        with pytest.raises(DeletionRefused):
            safe_unlink(bad, within=tree)
    with pytest.raises(IsADirectoryError):
        safe_unlink(tree / "run", within=tree)
    assert (tree.parent / "outside" / "precious").read_text() == "keep me" and (tree / "run").is_dir()


@pytest.mark.parametrize("results", ["/", "~"], ids=["fs root", "home"])
def test_a_fresh_chaos_summary_or_grid_run_refuses_a_results_dir_too_wide(results):
    """`make beta-matrix CHAOS=1 RESULTS=/` and `prove --out ~` delete nothing (the chaos rows file,
    the previous cells.json): the results dir is the root they are checked against."""
    wide = Path(os.path.expanduser(results))
    assert summary.main(["--fresh", str(wide)]) == 2
    with pytest.raises(DeletionRefused, match="too wide to own"):
        grid_run.run_grid(wide, [])


def test_a_fresh_chaos_summary_drops_only_the_rows_file(tmp_path):
    rows = summary.path(tmp_path)
    rows.parent.mkdir()
    rows.write_text("{}\n")
    (rows.parent / "setup.json").write_text("{}")
    assert summary.main(["--fresh", str(tmp_path)]) == 0
    assert not rows.exists() and (rows.parent / "setup.json").exists()


def test_stop_run_refuses_a_run_dir_outside_the_run_root(tree):
    outside = tree.parent / "outside"
    with pytest.raises(DeletionRefused):
        reaper.stop_run(outside, root=tree)
    assert (outside / "precious").read_text() == "keep me"


def test_the_allure_dir_loses_only_allures_files(tmp_path):
    mine = ["0a1b-result.json", "0a1b-container.json", "0a1b-attachment.txt", "9f-attachment.png"]
    foreign = ["notes.txt", "result.json", "my-results.json", "conftest.py", "x-result.json.bak"]
    for name in mine + foreign:
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "1-result.json").write_text("x")     # below the top level: not allure's
    gone = clear_allure(tmp_path)
    assert sorted(p.name for p in gone) == sorted(mine)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(foreign + ["sub"])
    assert (tmp_path / "sub" / "1-result.json").exists()


def test_a_dir_named_like_an_allure_file_is_kept(tmp_path):
    (tmp_path / "2-result.json").mkdir()
    (tmp_path / "2-result.json" / "inside").write_text("x")
    assert clear_allure(tmp_path) == []
    assert (tmp_path / "2-result.json" / "inside").exists()


@pytest.mark.parametrize("name", ["vm0", "a", "9", "dev", "fleet12", "vm0-w3", "a-b-c", "x" * 63])
def test_valid_vm_names(name):
    assert vm_name(name) == name
    assert parse(f"vm://{name}").name == name


BAD_NAMES = ["..", ".", "../x", "/etc", "a/b", "VM0", "-x", "a_b", "a.b", "a b", "", "x" * 64, "é", "a\n"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_vm_names_are_one_line(name):
    with pytest.raises(TargetError) as e:
        vm_name(name, "ARCHY_VM_NAME")
    msg = str(e.value)
    assert msg.startswith("ARCHY_VM_NAME: VM name ") and "(e.g. vm0)" in msg and "\n" not in msg


@pytest.mark.parametrize("url", ["vm://..", "vm:///../x", "vm://../x", "vm://x/y", "vm://VM0", "vm://a_b"])
def test_bad_vm_urls_are_refused_by_the_parser(url):
    with pytest.raises(TargetError, match=r"^vm://.*: VM name '.*' must be 1-63 of a-z, 0-9 and '-'"):
        parse(url)
