"""The consumer that sends a registration's verification mails from the committed `identity.created`
event (see `verifier.py`), retried with the bus's bounded redelivery.

Idempotent by the prepared flow's state rather than by an inbox row: sending commits the flow as
`sent_email` with the code and the courier command (proof.py), and a redelivered event finds no flow
still waiting. (The inbox would hold a transaction open around that commit, which SQLite's single
writer cannot grant.)"""

from __future__ import annotations

from services.selfservice.flows.verification.verifier import Verifier
from shared.bus.envelope import Envelope
from shared.bus.ports import DurableQueue, Subscription
from shared.clients.ports import IdentityClient

QUEUE = "selfservice.registration-verification"
CONSUMES = DurableQueue(QUEUE, ("identity.created",))


def registration_verification(verifier: Verifier, identities: IdentityClient, max_deliveries: int) -> Subscription:
    async def handle(envelope: Envelope) -> None:
        flow_id, identity_id = envelope.data.get("registration_flow_id"), envelope.data.get("identity_id")
        if not flow_id or not identity_id:
            return  # created by an operator or an import: Kratos mails nobody for those
        identity = await identities.get_identity(identity_id)
        if identity is not None:
            await verifier.send_prepared(flow_id, identity)

    return Subscription.of(CONSUMES, handle, max_deliveries)
