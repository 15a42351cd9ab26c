"""Run settings (harness/settings.py): option, else ini, else the environment, else the default,
with where the value came from for one-line errors."""
import pytest

from harness import settings

GRID = settings.SETTINGS["--grid-mode"]


@pytest.mark.parametrize("option, ini, env, want", [
    ("naive", "ladder", "ladder", ("naive", "--grid-mode")),
    (None, "naive", "ladder", ("naive", "ini archy_grid_mode")),
    (None, "", "naive", ("naive", "ARCHY_GRID_MODE")),
    (None, None, None, ("ladder", "--grid-mode (default)")),
    ("", None, "", ("ladder", "--grid-mode (default)")),
])
def test_option_then_ini_then_environment_then_default(option, ini, env, want):
    assert settings.resolve(GRID, option, ini, env) == want


def test_each_setting_has_an_option_an_ini_key_and_a_variable():
    for s in settings.SETTINGS.values():
        assert s.option.startswith("--") and s.ini == "archy_" + s.dest and s.env.startswith("ARCHY_")
    assert settings.SETTINGS["--vm-name"].ini == "archy_vm_name"
