"""Errors every self-service flow can raise, with Kratos's ids, texts and sibling keys."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from aiohttp import web

from services.selfservice.flows.flow import now, ts
from shared import errors, text

if TYPE_CHECKING:
    from services.selfservice.flows.registration.login_hints import Hints

# What a reason shows of a value the client sent: no more, since error pages on Warden's origin show it.
SHOWN_INPUT_LIMIT = 256
# Characters a URL keeps as they are (RFC 3986's reserved and unreserved ones, and `%`).
_URL_CHARACTERS = "!#$%&'()*+,/:;=?@[]~"


def shown_input(value: str) -> str:
    """A value from the request as an error's reason quotes it: percent-encoded beyond the characters
    of a URL (spaces included, as Go prints a URL in Kratos's reason) and cut short, so that a link
    carrying a sentence (`?return_to=https://x/Your account is locked. Call …`) cannot make Warden's
    error page say it."""
    shown = quote(value, safe=_URL_CHARACTERS)
    return shown if len(shown) <= SHOWN_INPUT_LIMIT else shown[:SHOWN_INPUT_LIMIT] + "…"


class FlowInvalid(Exception):
    """The submission failed in a way the user can fix: the flow now carries the messages and is
    rendered back (400 with the flow, or a redirect to the UI for browser forms)."""


class IdentityExists(FlowInvalid):
    """Registration found the identifier taken (the flow already says so); a method may instead
    offer to link (social sign-in). `hints`: how the account signs in, where
    `selfservice.flows.registration.login_hints` lets the registrant know (registration/login_hints.py).
    `holder_id`: the account that holds it (None: gone since), the only one a link may go to."""

    def __init__(self, hints: Hints | None = None, holder_id: str | None = None) -> None:
        super().__init__()
        self.hints = hints
        self.holder_id = holder_id


class TraitsRefused(FlowInvalid):
    """Registration's traits failed the schema (the flow already shows where); `error` is the
    identity service's answer, for a method that renders its own form."""

    def __init__(self, error: errors.BadRequest) -> None:
        super().__init__()
        self.error = error


class StepCompleted(Exception):
    """A method moved the flow on to its next screen (a code sent, the methods for an identifier, the
    credentials after the profile): Kratos's `ErrCompletedByStrategy`. The flow is the answer, as
    for FlowInvalid (400 with it, or the browser back to the UI), but nothing failed.

    `shows_payload`: the JSON answer carries the submitted `transient_payload`, as Kratos's does where
    the method writes its flow as it holds it (a code sent, the credentials after the profile). Its
    other answers re-read the flow from storage, which never holds the payload."""

    def __init__(self, *, shows_payload: bool = False) -> None:
        super().__init__()
        self.shows_payload = shows_payload


class FlowCompleted(Exception):
    """A code was to be sent for a flow that another submission completed after this one loaded it
    (a resend pressed with the code): nothing was sent, and the answer is the one a submission to
    the completed flow gets."""


class HookAbortFlow(Exception):
    """A hook answered the submission itself (Kratos's `ErrHookAbortFlow`): the flow goes no further
    and `response` is the answer, as the hook wrote it."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__()
        self.response = response


class RedirectBrowser(Exception):
    """A method sends the browser elsewhere mid-flow (to a social sign-in provider): the submit
    pipeline saves the flow with what the method stored in it, then tells the client where to go."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class BrowserLocationChangeRequired(errors.WardenError):
    """Kratos's 422: browsers are sent on with a 303 (the browser-error wrapper follows
    `redirect_browser_to`); SPAs and native apps read the URL from the error."""

    code = 422
    error_id = text.BROWSER_LOCATION_CHANGE_REQUIRED

    def __init__(self, url: str) -> None:
        super().__init__(
            f"In order to complete this flow please redirect the browser to: {url}",
            message="browser location change required",
            siblings={"redirect_browser_to": url},
        )


class FlowExpired(errors.WardenError):
    code = 410
    error_id = text.SELF_SERVICE_FLOW_EXPIRED

    def __init__(self, expired_at: datetime, new_flow_id: str) -> None:
        since = now() - expired_at
        super().__init__(
            f"The self-service flow expired {since.total_seconds() / 60:.2f} minutes ago, initialize a new one.",
            message="self-service flow expired",
            siblings={
                "use_flow_id": new_flow_id,
                "expired_at": ts(expired_at),
                "since": int(since.total_seconds() * 1e9),
            },
        )


class FetchedFlowExpired(errors.WardenError):
    """`GET /self-service/<kind>/flows?id=` of an expired flow (Kratos's `getXFlow`): no new flow is
    made, the client is told where to start one: `details.redirect_to` (the browser init endpoint,
    with the flow's `return_to`) and `details.return_to` for a browser flow, `details.api` for a
    native one."""

    code = 410
    error_id = text.SELF_SERVICE_FLOW_EXPIRED

    def __init__(self, kind: str, browser: bool, public_base_url: str, return_to: str | None) -> None:
        base = public_base_url.rstrip("/")
        if browser:
            redirect_to = f"{base}/self-service/{kind}/browser"
            if return_to:
                redirect_to += "?" + urlencode({"return_to": return_to})
            reason = (
                f"The {kind} flow has expired. Redirect the user to the {kind} flow init endpoint to "
                f"initialize a new {kind} flow."
            )
            details = {"redirect_to": redirect_to, "return_to": return_to or ""}
        else:
            reason = (
                f"The {kind} flow has expired. Call the {kind} flow init API endpoint to initialize a new {kind} flow."
            )
            details = {"api": f"{base}/self-service/{kind}/api"}
        super().__init__(
            reason,
            message="The requested resource is no longer available because it has expired or is otherwise invalid.",
            details=details,
        )


class FlowNotFound(errors.NotFound):
    def __init__(self) -> None:
        super().__init__("The requested flow could not be found.", message="Unable to locate the resource")


class SessionAlreadyAvailable(errors.BadRequest):
    """Kratos's `ErrAlreadyLoggedIn` of each flow that refuses a session: its reason names the flow."""

    error_id = text.SESSION_ALREADY_AVAILABLE
    _AFTER = {"login": " Did you forget to set `?refresh=true`?"}

    def __init__(self, kind: str = "login") -> None:
        super().__init__(
            f"A valid session was detected and thus {kind} is not possible.{self._AFTER.get(kind, '')}",
            message="you are already logged in",
        )


class ReturnToForbidden(errors.BadRequest):
    error_id = text.SELF_SERVICE_FLOW_RETURN_TO_FORBIDDEN

    def __init__(self, url: str) -> None:
        super().__init__(f'Requested return_to URL "{shown_input(url)}" is not allowed.')


class IdentitySchemaRefused(errors.BadRequest):
    """`?identity_schema=` names no schema of `identity.schemas`, or one that is neither the default
    nor `selfservice_selectable` (Kratos's `SelfServiceFlowIdentitySchema`: a plain 400, no id)."""

    def __init__(self, schema_id: str, *, exists: bool) -> None:
        shown = shown_input(schema_id)
        super().__init__(
            f'Requested identity schema "{shown}" is not enabled for self-service flows.'
            if exists
            else f'Requested identity schema "{shown}" does not exist.'
        )


class Aal1Required(errors.Unauthorized):
    error_id = text.SESSION_AAL1_REQUIRED

    def __init__(self) -> None:
        super().__init__(
            "You can not requested a higher AAL (AAL2/AAL3) without an active session.",
            message="An active session is required to request a higher Authenticator Assurance Level",
        )


class FlowDisabled(errors.BadRequest):
    """`selfservice.flows.<kind>.enabled: false`, in Kratos's words: UIs match the reason (a social
    sign-in that would have to register says it in a 4000001 whose context is this reason)."""

    error_id = text.SELF_SERVICE_FLOW_DISABLED
    _MESSAGES = {"registration": "registration flow disabled"}  # Kratos's ErrRegistrationDisabled

    def __init__(self, kind: str) -> None:
        super().__init__(
            f"{kind.capitalize()} is not allowed because it was disabled.",
            message=self._MESSAGES.get(kind, self.default_message),
        )


class MethodDisabled(errors.NotFound):
    def __init__(self) -> None:
        super().__init__(
            "",
            message="This endpoint was disabled by system administrator. Please check your url or "
            "contact the system administrator to enable it.",
        )


class NoActiveSession(errors.Unauthorized):
    error_id = text.SESSION_INACTIVE

    def __init__(self) -> None:
        super().__init__(
            "No active session was found in this request.",
            message="request does not have a valid authentication session",
        )


class IdentityMismatch(errors.Forbidden):
    error_id = text.SECURITY_IDENTITY_MISMATCH

    def __init__(self) -> None:
        super().__init__("The request was made for another identity and has been blocked for security reasons.")


class RefreshRequired(errors.Forbidden):
    error_id = text.SESSION_REFRESH_REQUIRED

    def __init__(self, redirect_to: str) -> None:
        super().__init__(
            "The login session is too old and thus not allowed to update these fields. Please re-authenticate.",
            siblings={"redirect_browser_to": redirect_to},
        )
