"""The lifecycle matrix as data (apps, events, cells, levels) and its model."""
from .model import (App, Cell, Event, Level, Matrix, MatrixError, load, plan)  # noqa: F401
