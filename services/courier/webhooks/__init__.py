"""Reliable delivery of outgoing HTTP calls: fire-and-forget `web_hook`s and the signed event sink.

Why the courier: it is the service whose job is sending things out of Warden and it already owns
the machinery (a table of things to send, claims with leases, backoff, abandoning, an admin API
that lists them). Self-service decides *that* a call is made and renders its body in the flow's
transaction; the courier makes sure it arrives. Putting delivery in self-service would give that
service a second retry loop and a second table of sends, and the event sink (which listens to every
service's events) would sit in a flow service that has nothing to do with most of them. No service
imports another: the `courier.webhook.requested` command (shared/bus/events.py) is the contract.
"""
