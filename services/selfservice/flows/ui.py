"""Kratos's UI container and nodes: what a flow tells a UI to render."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.text import Message


@dataclass
class Node:
    group: str
    attributes: dict[str, Any]
    type: str = "input"
    messages: list[Message] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        return self.attributes.get("name")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "group": self.group,
            "attributes": {**self.attributes, "node_type": self.type},
            "messages": [m.to_json() for m in self.messages],
            "meta": {k: (v.to_json() if isinstance(v, Message) else v) for k, v in self.meta.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Node:
        attributes = {k: v for k, v in data["attributes"].items() if k != "node_type"}
        meta = {k: (Message.from_json(v) if k == "label" else v) for k, v in (data.get("meta") or {}).items()}
        return cls(
            data["group"], attributes, data["type"], [Message.from_json(m) for m in data.get("messages") or []], meta
        )


def input_node(
    group: str,
    name: str,
    input_type: str,
    *,
    value: Any = None,
    required: bool = False,
    autocomplete: str | None = None,
    label: Message | None = None,
    disabled: bool = False,
    **extra: Any,
) -> Node:
    attributes: dict[str, Any] = {"name": name, "type": input_type, "required": required, "disabled": disabled}
    if value is not None:
        attributes["value"] = value
    if autocomplete:
        attributes["autocomplete"] = autocomplete
    attributes.update({k: v for k, v in extra.items() if v is not None})
    return Node(group, attributes, meta={"label": label} if label else {})


@dataclass
class Container:
    action: str
    method: str = "POST"
    nodes: list[Node] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    def add(self, *nodes: Node) -> None:
        self.nodes.extend(nodes)

    def upsert(self, node: Node) -> None:
        """Kratos's `Nodes.Upsert`: `node` takes the place of the one with its name (whatever that
        one's group), else joins at the end."""
        for i, existing in enumerate(self.nodes):
            if existing.name == node.name:
                self.nodes[i] = node
                return
        self.nodes.append(node)

    def find(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def set_value(self, name: str, value: Any) -> None:
        if (node := self.find(name)) is not None:
            node.attributes["value"] = value

    def clear_messages(self) -> None:
        self.messages = []
        for node in self.nodes:
            node.messages = []

    def add_node_message(self, name: str, message: Message) -> None:
        node = self.find(name)
        if node is None:
            self.messages.append(message)
        else:
            node.messages.append(message)

    def reset_secrets(self) -> None:
        """Never echo a password back to the browser."""
        for node in self.nodes:
            if node.attributes.get("type") == "password":
                node.attributes.pop("value", None)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "action": self.action,
            "method": self.method,
            "nodes": [n.to_json() for n in self.nodes],
        }
        if self.messages:
            body["messages"] = [m.to_json() for m in self.messages]
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Container:
        return cls(
            data["action"],
            data["method"],
            [Node.from_json(n) for n in data["nodes"]],
            [Message.from_json(m) for m in data.get("messages") or []],
        )
