"""Matrix grid reports (HTML, Markdown) rendered from results/cells.json."""
from .grid import Grid, build  # noqa: F401
from .render import html_report, markdown_report  # noqa: F401
