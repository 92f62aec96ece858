"""What the code and link methods share for verification and recovery: the form both flows open
with, asking for the address a code or a link goes to."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from services.selfservice.flows.flow import Flow
from services.selfservice.flows.ui import input_node
from shared import text
from shared.text import Message


class AddressMethod:
    method: ClassVar[str]
    submit_label: ClassVar[Callable[[], Message]]

    def __init__(self, public_base_url: str) -> None:
        self._base = public_base_url.rstrip("/")

    def populate_recovery(self, flow: Flow) -> None:
        self._address_form(flow)

    def populate_verification(self, flow: Flow) -> None:
        self._address_form(flow)

    def _address_form(self, flow: Flow) -> None:
        flow.ui.add(
            input_node(self.method, "email", "email", required=True, autocomplete="email", label=text.label_email()),
            input_node(self.method, "method", "submit", value=self.method, label=type(self).submit_label()),
        )
