"""The courier service's tables (SQLAlchemy Core). The migrations create exactly these."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text


@dataclass(frozen=True)
class CourierTables:
    messages: Table
    dispatches: Table
    webhooks: Table


def courier_tables(metadata: MetaData) -> CourierTables:
    messages = Table(
        "courier_messages",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("type", String(16), nullable=False),  # Kratos's message type: email | phone
        Column("channel", String(32), nullable=False),  # which channel delivers it: email | sms
        Column("status", String(16), nullable=False),
        Column("recipient", String(255), nullable=False, index=True),
        Column("subject", Text, nullable=False),
        Column("body", Text, nullable=False),
        Column("html_body", Text, nullable=True),
        Column("template_type", String(64), nullable=False),
        Column("template_data", Text, nullable=False),
        Column("send_count", Integer, nullable=False),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False),
        # Who holds the message while it is `processing`, and until when: a courier that dies
        # mid-send loses its claim when the lease runs out, and another one takes the message.
        Column("claim_token", String(36), nullable=True),
        Column("claimed_until", DateTime(timezone=True), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, index=True),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("trace_context", Text, nullable=True),  # the causing request's trace (shared.tracing.carrier)
        Index("ix_courier_messages_status_next_attempt_at", "status", "next_attempt_at"),
    )
    dispatches = Table(
        "courier_dispatches",
        metadata,
        Column("id", String(36), primary_key=True),
        Column(
            "message_id", String(36), ForeignKey("courier_messages.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        Column("status", String(16), nullable=False),
        Column("error", Text, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    webhooks = Table(
        "courier_webhook_deliveries",
        metadata,
        Column("id", String(36), primary_key=True),  # also the Idempotency-Key and webhook-id
        Column("kind", String(16), nullable=False),  # web_hook | event
        # web_hook: the config key of the hook's config; event: the subscription's id. Credentials
        # and secrets are read from config at send time, never stored here.
        Column("target", String(255), nullable=False),
        Column("event_type", String(255), nullable=True),
        Column("url", Text, nullable=False),
        Column("method", String(16), nullable=False),
        Column("body", Text, nullable=True),
        Column("status", String(16), nullable=False),
        Column("send_count", Integer, nullable=False),
        Column("last_error", Text, nullable=True),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False),
        Column("claim_token", String(36), nullable=True),
        Column("claimed_until", DateTime(timezone=True), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, index=True),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("trace_context", Text, nullable=True),  # the causing request's trace (shared.tracing.carrier)
        Index("ix_courier_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )
    return CourierTables(messages, dispatches, webhooks)
