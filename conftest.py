"""Top-level conftest: registers the archy-lifecycle pytest plugin (harness/plugin.py).

Options, fixtures (`node`, `driver`, `matrix`, `target`, `soak_duration`) and the grid
parametrization live in the plugin; see README.md.
"""
pytest_plugins = ["harness.broken", "harness.plugin"]
