"""The lifecycle matrix: load + validate the YAML data, plan the grid (levels: matrix/standing.py).

Everything but `load` is pure. Errors are MatrixError with a one-line 'file:line: what' message.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from string import Formatter
from typing import Iterable

from . import consistency
from .schema import (Bool, Ctx, Enum, Int, List, Map, MatrixError, Record, Str, compose,
                     locate)

__all__ = ["MatrixError", "Matrix", "App", "Event", "Level", "Cell", "load", "plan",
           "CAPABILITIES", "REQUIREMENTS", "VERDICTS", "MATRIX_DIR"]

MATRIX_DIR = Path(__file__).resolve().parent
FILES = ("apps.yaml", "events.yaml", "cells.yaml", "levels.yaml")
CAPABILITIES = ("node", "destructive", "reboot", "power_cut", "pause", "snapshot", "tor_network",
                "soak", "standin")
REQUIREMENTS = ("MUST", "SHOULD")
NOT_APPLICABLE = "-"
VERDICTS = ("passed", "failed", "not_run")

# ---------------------------------------------------------------- schemas (one per file)
_ID = Str(r"[a-z0-9][a-z0-9-]*", "an app id (lowercase, digits, '-')")
_EVENT_ID = Str(r"[a-z][a-z0-9_]*", "an event id (lowercase, digits, '_')")
_ABS = Str(r"/\S*", "an absolute path")
_URL = Str(r"https?://\S+", "an http(s) URL")
_PORTS = Map(Record({"port": Int(1, 65535), "ui": Bool()}, required=("port",)),
             key=Str(r"[a-z0-9_]+", "a port name"))
_IFRAME = Record({"frame_ancestors": Str(), "x_frame_options": Str()},
                 required=("frame_ancestors", "x_frame_options"))
_TOR = Record({"onion_port": Int(1, 65535), "target": _ID}, required=("onion_port", "target"))
_VERSION = Int(1, 1)
_MEMORY = Str(r"[1-9][0-9]*[bkmg]", "a memory size such as 256m (podman --memory)")
_CAPS = List(Str(r"(?!CAP_)[A-Z][A-Z_]*", "a capability name such as DAC_OVERRIDE (no CAP_ prefix)"), unique=True)
_OWNER = Str(r"[0-9]+:[0-9]+", "uid:gid such as 1:1")

_APP = Record({
    "title": Str(), "provides": _ID, "conflicts": List(_ID, unique=True),
    "depends": List(_ID, unique=True), "companions": List(_ID, unique=True), "grace": _ID,
    "profile": _ID, "ports": _PORTS, "ui": _ID, "tor": _TOR, "data_dirs": List(_ABS),
    "status_url": _URL, "integrations": List(_ID, unique=True), "goss": Str(r"[\w.-]+\.yaml"),
    "proxy_path": _ABS, "iframe": _IFRAME, "image": Str(), "memory": _MEMORY, "caps": _CAPS,
    "data_owner": _OWNER,
}, required=("title", "provides", "depends", "grace", "profile", "ports", "ui", "data_dirs",
             "status_url", "goss", "memory"))
_COMPANION = Record({
    "title": Str(), "companion_of": _ID, "grace": _ID, "profile": _ID, "ports": _PORTS,
    "status_url": _URL, "data_dirs": List(_ABS), "proxy_path": _ABS, "iframe": _IFRAME,
    "image": Str(), "memory": _MEMORY, "caps": _CAPS,
}, required=("title", "companion_of", "grace", "profile", "ports", "status_url", "memory"))

SCHEMAS = {
    "apps.yaml": Record({
        "schema_version": _VERSION, "stop_grace": Map(Int(1, 86400), key=_ID), "image": Str(),
        "defaults": Record({"proxy_path": _ABS, "iframe": _IFRAME}), "apps": Map(_APP, key=_ID),
        "companions": Map(_COMPANION, key=_ID),
    }, required=("schema_version", "stop_grace", "image", "apps")),
    "events.yaml": Record({
        "schema_version": _VERSION,
        "events": Map(Record({"title": Str(), "level": Int(1, 99),
                              "needs": List(Enum(CAPABILITIES), unique=True, min_len=1)},
                             required=("title", "level", "needs")), key=_EVENT_ID),
    }, required=("schema_version", "events")),
    "cells.yaml": Record({
        "schema_version": _VERSION, "apps": List(_ID, unique=True, min_len=1),
        "cells": Map(List(Enum(REQUIREMENTS + (NOT_APPLICABLE,))), key=_EVENT_ID),
    }, required=("schema_version", "apps", "cells")),
    "levels.yaml": Record({
        "schema_version": _VERSION,
        "levels": Map(Record({"title": Str(), "events": List(_EVENT_ID, unique=True), "chaos": Bool(),
                              "nightly_soak": Bool()},
                             required=("title", "events")), key=Int(1, 99)),
    }, required=("schema_version", "levels")),
}


# ---------------------------------------------------------------- the model
@dataclass(frozen=True)
class Port:
    name: str
    port: int
    ui: bool = False


@dataclass(frozen=True)
class App:
    id: str
    title: str
    provides: str
    depends: tuple[str, ...]
    conflicts: tuple[str, ...]
    companions: tuple[str, ...]
    grace: str
    stop_grace: int                 # seconds
    profile: str
    ports: tuple[Port, ...]
    ui: str                         # id of the app or companion serving the UI
    tor: dict | None                # {"onion_port", "target"}
    data_dirs: tuple[str, ...]
    status_url: str
    integrations: tuple[str, ...]
    goss: str | None
    proxy_path: str
    iframe: dict
    image: str
    companion_of: str | None = None  # set for UI companions

    def port(self, name: str) -> int:
        return next(p.port for p in self.ports if p.name == name)


@dataclass(frozen=True)
class Event:
    id: str
    title: str
    level: int
    needs: tuple[str, ...]


@dataclass(frozen=True)
class Level:
    n: int
    title: str
    events: tuple[str, ...]
    chaos: bool = False             # also rests on every chaos experiment that judges the app
    nightly_soak: bool = False      # also on the nightly long soak of the same commit, when one exists


@dataclass(frozen=True)
class Cell:
    app: str
    event: str
    requirement: str                # MUST | SHOULD
    needs: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.app}-{self.event}"


@dataclass(frozen=True)
class Matrix:
    apps: dict[str, App]            # grid apps, in cells.yaml column order
    companions: dict[str, App]
    events: dict[str, Event]        # in events.yaml row order
    cells: dict[tuple[str, str], str]   # (app, event) -> MUST|SHOULD; '-' cells absent
    levels: dict[int, Level]
    stop_grace: dict[str, int]
    directory: Path
    raw: dict[str, dict] = field(default_factory=dict, repr=False)  # validated plain data per file

    def app(self, app_id: str) -> App:
        return self.apps.get(app_id) or self.companions[app_id]

    def providers(self, capability: str) -> list[str]:
        return [a.id for a in self.apps.values() if a.provides == capability]


def load(directory: Path | str | None = None) -> Matrix:
    """Read and validate the four files; raise MatrixError naming file:line on the first problem."""
    d = Path(directory) if directory else MATRIX_DIR
    nodes, data = {}, {}
    for name in FILES:
        path = d / name
        nodes[name] = compose(path)
        data[name] = SCHEMAS[name].check(nodes[name], Ctx(_show(path)))
    return _build(d, data, nodes)


def _show(path: Path) -> Path:
    """Paths relative to the working directory read better in one-line errors."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


# A factory for MatrixError naming file:line of the offending node: (file, key path, message).
_Err = consistency.Err


def _build(d: Path, data: dict, nodes: dict) -> Matrix:
    """Cross-file validation and assembly; checks run in a fixed order so the first error is stable."""
    def err(file: str, keys: tuple, msg: str) -> MatrixError:
        node = locate(nodes[file], *keys)
        return Ctx(_show(d / file), ".".join(map(str, keys))).error(node, msg)

    a = data["apps.yaml"]
    apps, comps = _apps(a, err)
    events = {i: Event(i, e["title"], e["level"], tuple(e["needs"]))
              for i, e in data["events.yaml"]["events"].items()}
    c = data["cells.yaml"]
    cells = _cells(c, apps, events, err)
    lv = _levels(data["levels.yaml"], events, err)
    grid_apps = {i: apps[i] for i in c["apps"]}
    return Matrix(apps=grid_apps, companions=comps, events=events, cells=cells, levels=lv,
                  stop_grace=dict(a["stop_grace"]), directory=d, raw=data)


# ---------------------------------------------------------------- apps.yaml
def _apps(a: dict, err: _Err) -> tuple[dict[str, App], dict[str, App]]:
    """Apps and companions of apps.yaml, with every reference between them resolved."""
    if "default" not in a["stop_grace"]:
        raise err("apps.yaml", ("stop_grace",), "needs a 'default' entry")
    provided = {spec["provides"] for spec in a["apps"].values()}
    apps = {i: _make_app(a, i, s, "apps", err) for i, s in a["apps"].items()}
    comps = {i: _make_app(a, i, s, "companions", err) for i, s in a.get("companions", {}).items()}
    for app in apps.values():
        _check_app_refs(app, apps, comps, provided, err)
    _check_companions(apps, comps, provided, err)
    consistency.check(apps, comps, err)
    return apps, comps


def _make_app(a: dict, app_id: str, spec: dict, section: str, err: _Err) -> App:
    """One entry of apps: or companions:, filled in from the file-wide defaults."""
    grace = a["stop_grace"]
    defaults = a.get("defaults", {})
    if spec["grace"] not in grace:
        raise err("apps.yaml", (section, app_id, "grace"),
                  f"unknown grace class {spec['grace']!r} (stop_grace has: {', '.join(grace)})")
    return App(
        id=app_id, title=spec["title"], provides=spec.get("provides", app_id),
        depends=tuple(spec.get("depends", ())), conflicts=tuple(spec.get("conflicts", ())),
        companions=tuple(spec.get("companions", ())), grace=spec["grace"],
        stop_grace=grace[spec["grace"]], profile=spec["profile"],
        ports=tuple(Port(n, p["port"], p.get("ui", False)) for n, p in spec["ports"].items()),
        ui=spec.get("ui", app_id), tor=spec.get("tor"), data_dirs=tuple(spec.get("data_dirs", ())),
        status_url=spec["status_url"], integrations=tuple(spec.get("integrations", ())),
        goss=spec.get("goss"),
        proxy_path=_proxy_path(spec, defaults, (section, app_id), err),
        iframe=spec.get("iframe", defaults.get("iframe", {})), image=spec.get("image", a["image"]),
        companion_of=spec.get("companion_of"))


def _proxy_path(spec: dict, defaults: dict, at: tuple, err: _Err) -> str:
    """The app's proxy_path template (its own, else the default) with {id} filled in; any other
    field, a format spec or a stray brace is named at the template's line."""
    keys = at + ("proxy_path",) if "proxy_path" in spec else ("defaults", "proxy_path")
    template = spec.get("proxy_path", defaults.get("proxy_path", "/apps/{id}/"))
    try:
        fields = [(f, c, fs) for _, f, fs, c in Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise err("apps.yaml", keys, f"bad template {template!r}: {e}") from None
    if bad := next((f for f in fields if f != ("id", None, "")), None):
        shown = "{" + bad[0] + (f"!{bad[1]}" if bad[1] else "") + (f":{bad[2]}" if bad[2] else "") + "}"
        raise err("apps.yaml", keys, f"bad template {template!r}: unknown field {shown}: "
                                     "the only field is {id}, the app's id")
    return template.format(id=at[1])


def _check_app_refs(app: App, apps: dict, comps: dict, provided: set, err: _Err) -> None:
    """Conflicts name apps; depends/integrations name a capability or an app; companions exist;
    the UI and onion service point at the app itself or one of its own companions."""
    for other in app.conflicts:
        if other not in apps:
            raise err("apps.yaml", ("apps", app.id, "conflicts"), f"unknown app {other!r}")
    for dep in app.depends + app.integrations:
        if dep not in provided and dep not in apps:
            raise err("apps.yaml", ("apps", app.id, "depends"),
                      f"{dep!r} is neither a provided capability nor an app "
                      f"(provided: {', '.join(sorted(provided))})")
    for c in app.companions:
        if c not in comps:
            raise err("apps.yaml", ("apps", app.id, "companions"), f"unknown companion {c!r}")
    for key, target in (("ui", app.ui), ("tor", (app.tor or {}).get("target", app.id))):
        if target != app.id and target not in app.companions:
            raise err("apps.yaml", ("apps", app.id, key),
                      f"{target!r} is neither the app itself nor one of its companions")


def _check_companions(apps: dict, comps: dict, provided: set, err: _Err) -> None:
    """A companion belongs to a provided capability and shares no id with an app."""
    for c in comps.values():
        if c.companion_of not in provided:
            raise err("apps.yaml", ("companions", c.id, "companion_of"),
                      f"{c.companion_of!r} is not a capability any app provides")
    if overlap := set(apps) & set(comps):
        raise err("apps.yaml", ("companions", sorted(overlap)[0]), "id used by an app too")


# ---------------------------------------------------------------- cells.yaml
def _cells(c: dict, apps: dict, events: dict, err: _Err) -> dict[tuple[str, str], str]:
    """The grid as {(app, event): requirement}; '-' cells are left out."""
    _check_grid_apps(c, apps, err)
    cells = {}
    for ev, row in c["cells"].items():
        if ev not in events:
            raise err("cells.yaml", ("cells", ev), f"unknown event (events.yaml has: {', '.join(events)})")
        if len(row) != len(c["apps"]):
            raise err("cells.yaml", ("cells", ev),
                      f"{len(row)} entries for {len(c['apps'])} apps ({', '.join(c['apps'])})")
        for app_id, req in zip(c["apps"], row):
            if req != NOT_APPLICABLE:
                cells[(app_id, ev)] = req
    if missing := [e for e in events if e not in c["cells"]]:
        raise err("cells.yaml", ("cells",), f"no row for event(s) {', '.join(missing)}")
    return cells


def _check_grid_apps(c: dict, apps: dict, err: _Err) -> None:
    """The grid's columns are exactly the apps of apps.yaml (companions have no column)."""
    for i, app_id in enumerate(c["apps"]):
        if app_id not in apps:
            raise err("cells.yaml", ("apps", i), f"unknown app {app_id!r} (apps.yaml has: "
                                                 f"{', '.join(apps)})")
    if missing := [x for x in apps if x not in c["apps"]]:
        raise err("cells.yaml", ("apps",), f"apps missing from the grid: {', '.join(missing)}")


# ---------------------------------------------------------------- levels.yaml
def _levels(data: dict, events: dict, err: _Err) -> dict[int, Level]:
    """Levels numbered 1..n listing known events, agreeing with each event's own `level`."""
    lv = {}
    for n, spec in sorted(data["levels"].items()):
        if n != len(lv) + 1:
            raise err("levels.yaml", ("levels", n), f"levels must be numbered 1, 2, 3, ... (expected {len(lv) + 1})")
        for i, ev in enumerate(spec["events"]):
            if ev not in events:
                raise err("levels.yaml", ("levels", n, "events", i), f"unknown event {ev!r}")
        if not spec["events"] and not spec.get("chaos"):
            raise err("levels.yaml", ("levels", n, "events"), "a level rests on events, on the chaos suite "
                                                              "(chaos: true) or both; this one on nothing")
        lv[n] = Level(n, spec["title"], tuple(spec["events"]), spec.get("chaos", False),
                      spec.get("nightly_soak", False))
    _check_event_levels(events, lv, err)
    return lv


def _check_event_levels(events: dict, lv: dict, err: _Err) -> None:
    """events.yaml's `level` repeats where levels.yaml first lists the event; the two must agree."""
    for ev in events.values():
        first = min((lv_.n for lv_ in lv.values() if ev.id in lv_.events), default=None)
        if first != ev.level:
            raise err("events.yaml", ("events", ev.id, "level"),
                      f"level {ev.level} disagrees with levels.yaml (first listed at level {first})")


# ---------------------------------------------------------------- planning and levels
def _select(kind: str, wanted: Iterable[str] | None, valid: list[str]) -> list[str]:
    if wanted is None:
        return valid
    wanted = [w.strip() for w in wanted if w.strip()]
    if unknown := [w for w in wanted if w not in valid]:
        raise MatrixError(f"unknown {kind} {', '.join(map(repr, unknown))}; valid {kind}s: {', '.join(valid)}")
    return [v for v in valid if v in wanted]


def plan(matrix: Matrix, apps: Iterable[str] | None = None,
         events: Iterable[str] | None = None) -> list[Cell]:
    """The cells to run, app by app in lifecycle order; '-' cells are never generated."""
    sel_apps = _select("app", apps, list(matrix.apps))
    sel_events = _select("event", events, list(matrix.events))
    return [Cell(a, e, matrix.cells[(a, e)], matrix.events[e].needs)
            for a in sel_apps for e in sel_events if (a, e) in matrix.cells]
