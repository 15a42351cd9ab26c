"""The lifecycle matrix as data (apps, events, cells, levels) and its model."""
from .model import (App, Cell, Event, Level, Matrix, MatrixError, levels, load,  # noqa: F401
                    plan)
