"""The link method for verification and recovery: a URL with a single-use token, followed by the user."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from services.selfservice.flows.flow import Flow
from services.selfservice.strategies.address import AddressMethod
from services.selfservice.strategies.registry import Dependencies, MethodSpec
from shared import text


class LinkStrategy(AddressMethod):
    method = "link"
    submit_label = text.label_submit

    def after_sending(self, flow: Flow, kind: str, address: str, via: str = "email") -> None:  # links go by mail only
        flow.ui.set_value("email", address)
        flow.ui.messages.append(text.verification_link_sent() if kind == "verification" else text.recovery_link_sent())

    def template_data(self, flow: Flow, kind: str, secret: str) -> dict[str, Any]:
        url = f"{self._base}/self-service/{kind}?{urlencode({'flow': flow.id, 'token': secret})}"
        return {"VerificationURL" if kind == "verification" else "RecoveryURL": url}

    def template_type(self, kind: str, valid: bool) -> str:
        return f"{kind}_{'valid' if valid else 'invalid'}"


def _build(deps: Dependencies) -> LinkStrategy:
    # Kratos's `link.config.base_url`: where the links in mails point, when not the public URL (a
    # proxy path, another host the mail's readers can reach).
    return LinkStrategy(deps.settings.get("selfservice.methods.link.config.base_url") or deps.config.public_base_url)


SPEC = MethodSpec(id="link", node_group="link", credential_type=None, build=_build, enabled_by_default=False)
