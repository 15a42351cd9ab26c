"""Run settings as pytest users set them: a command-line option, else an ini value
([tool.pytest] in pyproject.toml, or pytest.ini), else the documented environment variable (what
older scripts and CI jobs set), else the default. One table, so `pytest --help` lists each
setting with its ini key and its variable. Pure but `value`, which reads the config."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    option: str             # the command-line option, e.g. --grid-mode
    env: str                # the environment fallback, e.g. ARCHY_GRID_MODE
    default: str | None
    help: str

    @property
    def dest(self) -> str:
        return self.option.removeprefix("--").replace("-", "_")

    @property
    def ini(self) -> str:
        return f"archy_{self.dest}"


SETTINGS = {s.option: s for s in (
    Setting("--grid-mode", "ARCHY_GRID_MODE", "ladder",
            "ladder (snapshot rungs, batches) or naive (every cell from golden: the benchmark's baseline)"),
    Setting("--vm-name", "ARCHY_VM_NAME", "vm0",
            "the embedded VM's name, so two sessions on one host do not claim the same VM"),
    Setting("--matrix-dir", "ARCHY_MATRIX_DIR", None, "read the lifecycle matrix from this directory"),
)}


def add_options(parser, group) -> None:
    for s in SETTINGS.values():
        group.addoption(s.option, dest=s.dest, default=None, metavar=s.dest.split("_")[-1].upper(),
                        help=f"{s.help} (ini {s.ini}, env {s.env}; default {s.default or 'none'})")
        parser.addini(s.ini, help=f"{s.help} ({s.option})", default=None)


def resolve(s: Setting, option: str | None, ini: str | None, env: str | None) -> tuple[str | None, str]:
    """(the first that is set: option, ini, environment, default; where it came from, for errors)."""
    for v, where in ((option, s.option), (ini, f"ini {s.ini}"), (env, s.env)):
        if v not in (None, ""):
            return v, where
    return s.default, f"{s.option} (default)"


def sourced(config, option: str) -> tuple[str | None, str]:
    s = SETTINGS[option]
    return resolve(s, config.getoption(s.dest), config.getini(s.ini), os.environ.get(s.env))


def value(config, option: str) -> str | None:
    return sourced(config, option)[0]
