"""UI companion: a frameable page and /status on its ui port; no data."""
from .service import Standin


class Ui(Standin):
    uses_data = False

    def open_listeners(self) -> None:
        pass  # the page shares the status listener (ui port): route_status_and_ui
