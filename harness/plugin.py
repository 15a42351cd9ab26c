"""The pytest plugin: options, targets, the lifecycle grid, verdict recording, JUnit/Allure paths.

Registered as the installed package's `pytest11` entry point `archy` (pyproject.toml); it registers
harness/broken.py itself (pytest_configure; as `pytest_plugins` pytest would warn that the module,
imported here already, cannot be rewritten). Any test function taking a `cell` argument becomes
the grid (ids `app-event`, marks must/should). Verdicts are recorded by the controller from
the reports xdist forwards (each report carries its cell in `user_properties`), so workers
never write the results file and nothing needs merging by hand.
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from contextlib import nullcontext as _nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import allure
import pytest

import vm
from matrix.model import Cell, Matrix, MatrixError, load, plan
from node.api import NodeError
from node.deletion import clear_allure
from node.driver import PlatformDriver
from node import conformance, timing
from node.names import HARNESS
from node.platform import PlatformError
from node.target import Target, TargetError, check_files, connect, parse, vm_name

from . import (allure_meta, artifacts, broken, goss_session, journal, outputs, progress, results, revision,
               settings, timings)
from .events import EVENTS
from .duration import DurationError, parse_duration

STATE = pytest.StashKey["Archy"]()
_CALL_REPORT = pytest.StashKey[pytest.TestReport]()
_TALLY_BEFORE = pytest.StashKey[timing.Tally]()
# a journal cursor from which a failed cell's artifacts start, when the cell's action ran before the
# cell's own cursor (a grid batch: the reboot that failed it is in the previous boot's journal)
ARTIFACTS_SINCE = pytest.StashKey[str]()
# the secrets a worker learned, handed to the controller in xdist's workeroutput (memory, no file)
SECRETS_OUTPUT = "archy_secrets"


@dataclass
class Archy:
    targets: list[Target]
    matrix: Matrix | None
    cells: list[Cell]
    apps: list[str] | None
    events: list[str] | None
    allow_destructive: bool
    soak_seconds: float
    results_dir: Path
    started: float = field(default_factory=time.time)
    phases: dict = field(default_factory=dict)     # (nodeid, node) -> {when: (outcome, reason)}
    meta: dict = field(default_factory=dict)       # (nodeid, node) -> cell info
    timing: dict = field(default_factory=dict)     # (nodeid, node) -> {"phases": {when: s}, "tally": ...}


# ---------------------------------------------------------------- options
def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("archy", f"{HARNESS.project} targets and grid")
    g.addoption("--node", action="append", default=[], metavar="URL",
                help="target node, repeatable: ssh://user@host[:port]?disposable=1&key=PATH&known_hosts=PATH "
                     "or vm://NAME; several run in parallel, one xdist worker each")
    g.addoption("--vm", action="store_true", help="the embedded QEMU VM (default when no --node)")
    g.addoption("--platform", default=None, metavar="NAME",
                help="platform profile of the node(s) (platforms/NAME.yaml or a path; default reference); "
                     "a node URL's ?platform= wins")
    g.addoption("--apps", metavar="A,B", help="only these apps (comma-separated ids)")
    g.addoption("--events", metavar="E,F", help="only these events (comma-separated ids)")
    g.addoption("--allow-destructive", action="store_true",
                help="allow reboot/uninstall/chaos cells on a real node marked disposable")
    g.addoption("--soak-duration", default="5m", metavar="DUR",
                help="soak length: 90s, 10m, 1h30m, 6h; 0 disables the soak cells (default 5m)")
    g.addoption("--results-dir", default=None, metavar="DIR", help="results directory (default results/)")
    settings.add_options(parser, g)


def _csv(option: str, v: str | None) -> list[str] | None:
    """The ids of a comma-separated option; one that names none (`--apps ,`) is a usage error."""
    if v is None:
        return None
    ids = [x.strip() for x in v.split(",") if x.strip()]
    if not ids:
        example = "lnd,mempool" if option == "--apps" else "fresh_install,ui_iframe"
        raise pytest.UsageError(f"{option} {v!r} names no id; give comma-separated ids, e.g. {option} {example}")
    return ids


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config):
    """Several --node values: one xdist worker per node (`--dist each`; loadgroup does not
    group on pytest 9.2). A wrapper, so it runs before xdist's own cmdline_main (tryfirst, and
    loaded as an entry point like this plugin, in an order neither controls) turns -n into workers."""
    _workers_for_nodes(config)
    return (yield)


def _workers_for_nodes(config: pytest.Config) -> None:
    if _is_worker(config) or config.option.collectonly:
        return
    n = len(config.option.node)
    if n == 1 and not config.option.vm:
        _one_worker_per_node(config)
    if n < 2:
        return
    if not config.pluginmanager.hasplugin("xdist"):
        raise pytest.UsageError("several --node values need pytest-xdist (pip install pytest-xdist)")
    if config.option.numprocesses not in (None, 0, n):
        raise pytest.UsageError(f"{n} --node values need -n {n} (one worker per node), got -n "
                                f"{config.option.numprocesses}")
    config.option.numprocesses = n
    config.option.dist = "each"


def _one_worker_per_node(config: pytest.Config) -> None:
    """-n N on one real node would run N workers' cells on it at once (installs racing each
    other); the embedded VM is the exception: one VM per worker."""
    workers = getattr(config.option, "numprocesses", None)
    if workers in (None, 0, 1) or urlparse(config.option.node[0].strip()).scheme == "vm":
        return
    raise pytest.UsageError(f"-n {workers} with one --node: one worker per node; drop -n, or give "
                            f"one --node per worker")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("harness.broken"):   # a crashed guest's cell runs once more
        config.pluginmanager.register(broken, "harness.broken")
    config.pluginmanager.register(TestinfraHost(), HARNESS.mark("host"))
    for line in ("journal_allow(*regex): journal lines a cell may log",
                 "must: a MUST cell of the lifecycle matrix", "should: a SHOULD cell of the lifecycle matrix"):
        config.addinivalue_line("markers", line)
    targets = _targets(config)
    apps, events = _csv("--apps", config.option.apps), _csv("--events", config.option.events)
    try:
        m = targets[0].platform.apply(load(settings.value(config, "--matrix-dir")))
        cells = plan(m, apps, events)
    except PlatformError as e:
        raise pytest.UsageError(f"--platform: {e}") from None
    except MatrixError as e:
        raise pytest.UsageError(f"matrix: {e}") from None
    if not cells and (apps or events):
        raise pytest.UsageError(f"--apps/--events: {','.join(apps or ['(all)'])} x {','.join(events or ['(all)'])} "
                                "selects no cell (every one is '-' in the matrix); pick another app or event")
    try:
        soak_seconds = parse_duration(config.option.soak_duration, zero_ok=True)
    except DurationError as e:
        raise pytest.UsageError(f"--soak-duration: {e}") from None
    rdir = Path(config.option.results_dir or config.rootpath / "results")
    config.stash[STATE] = Archy(targets, m, cells, apps, events, config.option.allow_destructive,
                                soak_seconds, rdir)
    _output_paths(config, rdir)
    if not _is_worker(config):
        config.pluginmanager.register(Recorder(config), HARNESS.mark("recorder"))
        workers = getattr(config.option, "numprocesses", None)
        config.pluginmanager.register(progress.CellProgress(config, rdir, workers if isinstance(workers, int) else 1),
                                      HARNESS.mark("progress"))


def _targets(config: pytest.Config) -> list[Target]:
    """The session's targets, each checked as far as it can be without connecting (its URL, its
    known_hosts and client key): a bad one is one line before any cell, not an error in each."""
    try:   # --vm-name: another name, for parallel sessions on one host
        default_vm = f"vm://{vm_name(*settings.sourced(config, '--vm-name'))}"
    except TargetError as e:
        raise pytest.UsageError(str(e)) from None
    try:
        urls = list(config.option.node) + ([default_vm] if config.option.vm or not config.option.node else [])
        targets = [parse(u, config.option.platform) for u in urls]
        for t in targets:
            check_files(t)
    except TargetError as e:
        raise pytest.UsageError(f"--node: {e}") from None
    if len({t.name for t in targets}) != len(targets):
        raise pytest.UsageError("--node: two targets share a name; add &name=... to tell them apart")
    if len({t.platform for t in targets}) > 1:
        raise pytest.UsageError("--node: the nodes of one run must share a platform profile; run each kind apart")
    return targets


def _output_paths(config: pytest.Config, rdir: Path) -> None:
    """JUnit and Allure under results/ by default; the Allure dir loses the previous run's Allure
    files here, once, in the controller (allure's --clean-alluredir races when every xdist worker
    deletes it), and nothing else: it may be any dir the user named, even `.`."""
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(rdir / "junit.xml")
    if hasattr(config.option, "allure_report_dir") and not config.option.allure_report_dir:
        config.option.allure_report_dir = str(rdir / "allure")
    if _is_worker(config) or config.option.collectonly:
        return
    allure_dir = getattr(config.option, "allure_report_dir", None)
    for option, path in (("--results-dir", rdir), ("--junitxml", Path(config.option.xmlpath).parent),
                         ("--alluredir", allure_dir)):
        if path:
            _writable_dir(option, Path(path))
    if allure_dir:
        clear_allure(allure_dir)


def _writable_dir(option: str, path: Path) -> None:
    """`path` exists (made if need be) and takes a file, or one usage error line naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise pytest.UsageError(f"{option} {path}: not a writable directory ({e.strerror or e}); "
                                f"pass {option} a directory you can write to") from None


# ---------------------------------------------------------------- target per process
def worker_index(config: pytest.Config) -> int:
    wid = getattr(config, "workerinput", {}).get("workerid", "gw0")
    return int(wid[2:]) if wid.startswith("gw") and wid[2:].isdigit() else 0


def current_target(config: pytest.Config) -> Target:
    st = config.stash[STATE]
    if len(st.targets) > 1:
        return st.targets[worker_index(config) % len(st.targets)]
    t = st.targets[0]
    if t.is_vm and _is_worker(config):  # -n N against the embedded VM: one VM per worker
        name = f"{t.name}-w{worker_index(config)}"
        return dataclasses.replace(t, url=f"vm://{name}", name=name)
    return t


def reported_node(config: pytest.Config) -> str:
    """The node a cell's record counts for: the target the user named. `-n N` against the one
    embedded VM shards that node's grid over N VMs (vm0-w0, vm0-w1), which the gate must see
    as one grid of vm0, not N partial ones."""
    st = config.stash[STATE]
    return st.targets[0].name if len(st.targets) == 1 else current_target(config).name


def missing_capability(cell: Cell, target: Target, allow_destructive: bool, soak_seconds: float,
                       changes_node: bool = True) -> str | None:
    """Why `cell` cannot run on `target`, or None; pure. A node not marked disposable is never
    changed: only cells that leave the node as they found it run there."""
    for need in cell.needs:
        if need == "destructive" and not target.is_vm:
            if not target.disposable:
                return (f"destructive cell: node {target.name} is not marked disposable "
                        f"(add ?disposable=1 to its URL and pass --allow-destructive)")
            if not allow_destructive:
                return f"destructive cell: pass --allow-destructive to run it on {target.name}"
        elif need == "soak" and soak_seconds <= 0:
            return "soak disabled (--soak-duration 0)"
        elif need not in target.capabilities:
            return f"target {target.name} lacks capability '{need}'"
    if changes_node and not target.is_vm and not target.disposable:
        return (f"changes the node: {target.name} is not marked disposable (add ?disposable=1 to its URL); "
                "a read-only run checks only the steady state, UI paths and Tor of what is installed")
    return None


def why_not_run(cell: Cell, config: pytest.Config) -> str | None:
    """missing_capability for this session's target and options."""
    st = config.stash[STATE]
    return missing_capability(cell, current_target(config), st.allow_destructive, st.soak_seconds,
                              changes_node=EVENTS[cell.event].changes_node)


# ---------------------------------------------------------------- the grid
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cell" not in metafunc.fixturenames:
        return
    st = metafunc.config.stash[STATE]
    params = [pytest.param(c, id=c.id, marks=[getattr(pytest.mark, c.requirement.lower())])
              for c in st.cells]
    metafunc.parametrize("cell", params, indirect=True)


def _item_cell(item: pytest.Item) -> Cell | None:
    c = getattr(getattr(item, "callspec", None), "params", {}).get("cell")
    return c if isinstance(c, Cell) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tag every grid item with its cell, so any outcome (even a failure in another fixture
    before `cell` runs) is recorded against the right cell and node; a cell the target cannot
    run gets a skip mark, so no fixture touches the node for it."""
    target = current_target(config)
    reported = reported_node(config)
    for item in items:
        if c := _item_cell(item):
            info = {"app": c.app, "event": c.event, "requirement": c.requirement, "node": reported}
            if target.name != reported:
                info["machine"] = target.name     # which worker's VM ran it (its artifacts' dir)
            item.user_properties.append(("archy_cell", json.dumps(info)))
            if why := why_not_run(c, config):
                item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="session")
def archy(pytestconfig) -> Archy:
    return pytestconfig.stash[STATE]


@pytest.fixture(scope="session")
def matrix(archy) -> Matrix:
    return archy.matrix


@pytest.fixture(scope="session")
def soak_duration(archy) -> float:
    """Soak length in seconds (--soak-duration)."""
    return archy.soak_seconds


@pytest.fixture(scope="session")
def target(pytestconfig) -> Target:
    return current_target(pytestconfig)


@pytest.fixture(scope="session")
def node(target, pytestconfig):
    """The session's node: one per process, shared by every test (VM booted once)."""
    try:
        n, error = connect(target, vm=vm.launcher(_progress(pytestconfig))), None
    except NodeError as e:
        n, error = None, f"node {target.name}: {e}"
    if error:  # raised outside the except block: one line, no chained traceback
        pytest.fail(error, pytrace=False)
    try:
        conformance.check(n, PlatformDriver(n))
    except NodeError as e:      # the profile's names are not on this node: no cell can be judged
        (getattr(n, "destroy", None) or n.close)()
        pytest.exit(str(e), returncode=pytest.ExitCode.USAGE_ERROR)
    pytestconfig.stash[broken.NODE] = n       # a failed cell asks it whether the guest crashed
    try:
        yield n
    finally:
        _learn_secrets(n)
        goss_session.release(n)       # this session's goss dir on the node (a copied goss, vars)
        (getattr(n, "destroy", None) or n.close)()


class TestinfraHost:
    """The `host` fixture testinfra users write checks with, on the session's node: a testinfra
    Host whose commands run through the node's pinned, bounded `run` as root (node/infra.py).
    Registered in pytest_configure, after every entry point, so it overrides the `host` of
    testinfra's own plugin (the machine running pytest unless --hosts names another) wherever
    that plugin is loaded; this repository turns that plugin off (`-p no:pytest11.testinfra`)."""

    @pytest.fixture(scope="session")
    def host(self, node):
        """testinfra's Host on the session's node (as root, through its pinned, bounded run)."""
        return node.host


@pytest.fixture(scope="module")
def from_golden(node):
    """A module that needs a clean node: the session VM is shared, and an earlier suite (chaos)
    leaves apps installed. Restores golden on a VM; a real node is used as it is."""
    if "snapshot" in node.capabilities:
        node.restore()
    return node


def _progress(config: pytest.Config):
    """Progress lines (image build, boot) shown live: capture is suspended while printing."""
    tr = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if tr is None:
        return None

    def show(*parts) -> None:
        with capman.global_and_fixture_disabled() if capman else _nullcontext():
            progress.say(tr, " ".join(map(str, parts)))
    return show


@pytest.fixture(scope="session")
def driver(node, request):
    m = request.config.stash[STATE].matrix
    return PlatformDriver(node, images={a.id: a.image for a in (*m.apps.values(), *m.companions.values())})


@pytest.fixture
def cell(request, archy, target):
    """A grid cell (capability skips are marked at collection): takes a journal
    cursor; after the test runs the journal check, and on failure collects and attaches artifacts."""
    c: Cell = request.param
    _allure_labels(c, target)
    n = request.getfixturevalue("node")
    cursor = n.journal_cursor()
    yield c
    call = request.node.stash.get(_CALL_REPORT, None)
    failed = call is not None and call.failed
    skipped = call is not None and call.skipped
    allow = [p for m in request.node.iter_markers("journal_allow") for p in m.args]
    problems = []
    if not skipped:
        try:
            with timing.span("journal check"):
                problems = journal.check(n, cursor, allow)
        except NodeError as e:
            if not failed:
                problems = [f"journal check could not run: {e}"]
    if not (failed or problems):
        _learn_secrets(n)  # after every cell: an install may have made new ones (collect learns them itself)
    else:
        dest = archy.results_dir / "artifacts" / target.name / c.id
        try:
            since = request.node.stash.get(ARTIFACTS_SINCE, cursor)
            with timing.span("artifacts"):
                paths = artifacts.collect(n, dest, app=c.app, cursor=since)
            rel = [str(p.relative_to(archy.results_dir)) for p in paths]
            request.node.user_properties.append(("archy_artifacts", json.dumps(rel)))
        except (NodeError, OSError) as e:
            request.node.user_properties.append(("archy_artifacts_error", str(e)))
    if problems:
        shown = "\n".join(problems[:20]) + (f"\n... {len(problems) - 20} more" if len(problems) > 20 else "")
        pytest.fail(f"journal check: {len(problems)} error line(s) from archy units:\n{shown}", pytrace=False)


def _learn_secrets(n, timeout: float = 10) -> None:
    """The node's secrets, so the end of the run masks them in every output (a dead node: skip)."""
    try:
        artifacts.learn_node_secrets(n, timeout=timeout)
    except NodeError:
        pass


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker hands the secrets it learned to the controller (xdist sends workeroutput after
    every sessionfinish), which redacts every output at its own end (Recorder)."""
    if _is_worker(session.config):
        session.config.workeroutput[SECRETS_OUTPUT] = sorted(artifacts.known())


def _allure_labels(c: Cell, t: Target) -> None:
    allure.dynamic.feature(c.app)
    allure.dynamic.story(c.event)
    allure.dynamic.severity(allure.severity_level.CRITICAL if c.requirement == "MUST"
                            else allure.severity_level.NORMAL)
    allure.dynamic.parameter("node", t.name)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """The tally before a grid cell's setup (its state, its batch) begins: node/timing.py."""
    if _item_cell(item) is not None:
        item.stash[_TALLY_BEFORE] = timing.snapshot()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    if call.when == "teardown" and _TALLY_BEFORE in item.stash:   # the teardown has run: the cell's whole share
        item.user_properties.append(("archy_timing", json.dumps(timing.since(item.stash[_TALLY_BEFORE]))))
    rep = yield
    if rep.when == "call":
        item.stash[_CALL_REPORT] = rep
    return rep


# ---------------------------------------------------------------- recording (controller only)
def _reason(rep: pytest.TestReport) -> str:
    if rep.skipped and isinstance(rep.longrepr, tuple):
        return str(rep.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(getattr(rep.longrepr, "reprcrash", None), "message", None)
    if not crash:
        lines = (getattr(rep, "longreprtext", "") or "").strip().splitlines()
        crash = lines[-1] if lines else ""
    return artifacts.redact(crash.strip().removeprefix("Failed: "))[:500]


class Recorder:
    """Registered in the controller only; sees every report (xdist forwards workers' ones)."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "archy_cell" not in props:
            return
        st = self.config.stash[STATE]
        info = json.loads(props["archy_cell"])
        key = (report.nodeid, info["node"])
        meta = st.meta.setdefault(key, {**info, "nodeid": report.nodeid, "artifacts": [], "duration": 0.0})
        meta["duration"] += report.duration
        if "archy_artifacts" in props:
            meta["artifacts"] = json.loads(props["archy_artifacts"])
        if "archy_parts_not_run" in props:
            meta["parts_not_run"] = json.loads(props["archy_parts_not_run"])
        for prop, field_ in (("archy_retried", "retried"), ("archy_broken", "broken")):
            if prop in props:
                meta[field_] = artifacts.redact(json.loads(props[prop]))
        st.phases.setdefault(key, {})[report.when] = (report.outcome, _reason(report))
        t = st.timing.setdefault(key, {"phases": {}, "tally": None})
        t["phases"][report.when] = report.duration
        if "archy_timing" in props:
            t["tally"] = json.loads(props["archy_timing"])

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """The console redacted as it is written (pytest has no public hook for its stream)."""
        tw = getattr(self.config.pluginmanager.get_plugin("terminalreporter"), "_tw", None)
        if tw is not None and hasattr(tw, "_file"):
            tw._file = outputs.RedactingStream(tw._file, artifacts.known)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """An xdist worker finished: the secrets it learned (a crashed worker hands none)."""
        for value in getattr(node, "workeroutput", {}).get(SECRETS_OUTPUT, ()):
            artifacts.register_secret(value)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """After junit.xml is written (trylast) and every worker has finished: cells.json, then
        every file this run wrote redacted with the secrets of every node."""
        st = self.config.stash[STATE]
        if st.meta:        # no grid cell ran: keep the last grid run's results
            self._write_cells(st)
        self._allure_meta(st)
        self._redact_outputs(st, session)

    def _allure_meta(self, st: Archy) -> None:
        adir = getattr(self.config.option, "allure_report_dir", None)
        if not adir or self.config.option.collectonly:
            return
        targets = [{"name": t.name, "kind": t.kind, "platform": t.platform.name, "login": t.login}
                   for t in (_reported_targets(st) if st.meta else st.targets)]
        versions = {"pytest": pytest.__version__}
        try:
            allure_meta.write(Path(adir), allure_meta.environment(revision.commit(), targets, versions))
        except OSError as e:
            tr = self.config.pluginmanager.get_plugin("terminalreporter")
            if tr:
                tr.write_line(f"archy: could not write Allure's categories and environment: {e.strerror}")

    def _write_cells(self, st: Archy) -> None:
        cells = []
        for key, meta in st.meta.items():
            verdict, reason = results.phase_verdict(st.phases.get(key, {}))
            cells.append({**meta, "verdict": verdict, "reason": artifacts.redact(reason),
                          "duration": round(meta["duration"], 3)})
        doc = {
            "version": results.RESULTS_VERSION, "started": st.started, "finished": time.time(),
            "commit": revision.commit(),
            "targets": [{"name": t.name, "url": t.url, "kind": t.kind, "login": t.login,
                         "platform": t.platform.name} for t in _reported_targets(st)],
            "selection": {"apps": st.apps, "events": st.events}, "soak_seconds": st.soak_seconds,
            "cells": sorted(cells, key=lambda r: (r["node"], r["nodeid"])),
        }
        results.write(st.results_dir / "cells.json", doc)
        self._write_timings(st, cells, doc)
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr:
            n = {v: sum(c["verdict"] == v for c in cells) for v in ("passed", "failed", "not_run")}
            progress.say(tr, f"archy: {len(cells)} cell result(s) -> {st.results_dir / 'cells.json'} "
                             f"({n['passed']} passed, {n['failed']} failed, {n['not_run']} not run)")

    def _write_timings(self, st: Archy, cells: list[dict], doc: dict) -> None:
        """results/timings.json (harness/timings.py); the grid report summarises it."""
        by_key = {(c["nodeid"], c["node"]): c for c in cells}
        rows = [timings.cell_record(f"{by_key[key]['app']}-{by_key[key]['event']}", by_key[key], t["phases"],
                                    t["tally"])
                for key, t in st.timing.items() if key in by_key]
        timings.write(st.results_dir / "timings.json",
                      timings.document(rows, commit=doc["commit"], started=doc["started"], finished=doc["finished"]))

    def _redact_outputs(self, st: Archy, session: pytest.Session) -> None:
        """Redact, then audit: a secret still found in any output fails the run (exit 1)."""
        roots = [st.results_dir, *(Path(p) for p in (getattr(self.config.option, "xmlpath", None),
                                                     getattr(self.config.option, "allure_report_dir", None)) if p)]
        sweep = outputs.redact_outputs(roots, st.started, artifacts.known())
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        say = tr.write_line if tr else (lambda *_a, **_k: None)
        for problem in sweep.errors:
            say(f"archy: could not redact {problem}", red=True)
        for leak in sweep.leaks:
            say(f"archy: SECRET LEAK after redaction: {leak}", red=True)
        if sweep.secrets:
            say(f"archy: secret audit: {sweep.files} output file(s) searched for {sweep.secrets} node "
                f"secret value(s): {len(sweep.leaks)} leak(s)", red=bool(sweep.leaks))
        if sweep.leaks and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _reported_targets(st: Archy) -> list[Target]:
    names = {m["node"] for m in st.meta.values()}
    known = [t for t in st.targets if t.name in names]
    extra = [parse(f"vm://{n}") for n in sorted(names - {t.name for t in known})]
    return known + extra
