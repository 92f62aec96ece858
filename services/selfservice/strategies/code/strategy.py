"""The code method for verification and recovery: a 6-digit code by email, typed into the flow."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from services.selfservice.flows.flow import Flow
from services.selfservice.flows.ui import input_node
from shared import text


class CodeStrategy:
    method = "code"

    def __init__(self, public_base_url: str) -> None:
        self._base = public_base_url.rstrip("/")

    def populate(self, flow: Flow, kind: str) -> None:
        flow.ui.add(
            input_node("code", "email", "email", required=True, autocomplete="email", label=text.label_email()),
            input_node("code", "method", "submit", value="code", label=text.label_continue()),
        )

    def after_sending(self, flow: Flow, kind: str, address: str) -> None:
        flow.ui.nodes = [n for n in flow.ui.nodes if n.name == "csrf_token"]
        label = text.label_verification_code() if kind == "verification" else text.label_recovery_code()
        flow.ui.add(
            input_node(
                "code",
                "code",
                "text",
                required=True,
                autocomplete="one-time-code",
                pattern="[0-9]+",
                maxlength=6,
                label=label,
            ),
            input_node("code", "method", "hidden", value="code"),
            input_node("code", "method", "submit", value="code", label=text.label_continue()),
            input_node("code", "email", "submit", value=address, label=text.label_resend_code()),
        )
        sent = text.verification_code_sent() if kind == "verification" else text.recovery_code_sent()
        flow.ui.messages.append(sent)

    def template_data(self, flow: Flow, kind: str, secret: str) -> dict[str, Any]:
        if kind == "recovery":
            return {"RecoveryCode": secret}
        # As Kratos: the mail also links to the flow with the code, for one click instead of typing.
        url = f"{self._base}/self-service/verification?{urlencode({'flow': flow.id, 'code': secret})}"
        return {"VerificationCode": secret, "VerificationURL": url}

    def template_type(self, kind: str, valid: bool) -> str:
        return f"{kind}_code_{'valid' if valid else 'invalid'}"
