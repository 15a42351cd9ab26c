"""Top-level conftest: nothing to register. The archy-lifecycle pytest plugin (harness/plugin.py,
with harness/broken.py) is the installed package's `pytest11` entry point `archy` (pyproject.toml),
so it loads in any pytest run of the venv, in this repository or in a user's own test files.

Options, fixtures (`node`, `driver`, `matrix`, `target`, `soak_duration`) and the grid
parametrization live in the plugin; see README.md.
"""
