"""Every self-service method, listed once, in the order their nodes appear in a flow: Kratos's order
(`driver/registry_default.go`: password, oidc, profile, code, link, totp, passkey, webauthn, lookup),
except that profile comes first, so that a settings form opens with the traits as it always has in
Warden. Each is switched on by `selfservice.methods.<id>.enabled`.

Adding a method means adding its folder and one line here: the flows it joins follow from the
Protocols it implements, and its routes reach the route table (hence nginx and the Ingress) from its
`MethodSpec`. See README.md beside this file for a worked example.
"""

from __future__ import annotations

from services.selfservice.strategies.code.strategy import SPEC as CODE
from services.selfservice.strategies.link.strategy import SPEC as LINK
from services.selfservice.strategies.lookup_secret.strategy import SPEC as LOOKUP_SECRET
from services.selfservice.strategies.oidc.spec import SPEC as OIDC
from services.selfservice.strategies.passkey.strategy import SPEC as PASSKEY
from services.selfservice.strategies.password.strategy import SPEC as PASSWORD
from services.selfservice.strategies.profile.settings import SPEC as PROFILE
from services.selfservice.strategies.registry import MethodSpec
from services.selfservice.strategies.totp.strategy import SPEC as TOTP
from services.selfservice.strategies.webauthn.strategy import SPEC as WEBAUTHN

METHODS: tuple[MethodSpec, ...] = (
    PROFILE,
    PASSWORD,
    OIDC,
    CODE,
    LINK,
    TOTP,
    PASSKEY,
    WEBAUTHN,
    LOOKUP_SECRET,
)
