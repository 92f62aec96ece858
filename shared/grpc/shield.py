"""What a gRPC caller learns when a servicer fails unexpectedly: a status and a fixed sentence.

Left to itself, grpcio answers an exception a servicer did not turn into a status with UNKNOWN and
`Unexpected <class …>: <str(exc)>` as the details, so a database error reaches the caller with its
SQL statement (and its parameters: identifiers, tokens). The HTTP ports answer such errors with a
generic 500 (shared.http.middleware.rendered); this is the gRPC port's counterpart: the stack goes
to the log (which masks secrets), the caller gets INTERNAL, or UNAVAILABLE when a dependency is down.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from shared.http.middleware import dependency_down

log = logging.getLogger(__name__)
INTERNAL_DETAILS = "an internal error occurred"
UNAVAILABLE_DETAILS = "a dependency is unavailable, try again shortly"
MALFORMED_DETAILS = "the request message does not parse"

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


class ErrorShield(grpc.aio.ServerInterceptor):
    """Wraps every servicer method so that only statuses it chose (`context.abort`) reach the caller."""

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None:
            return None
        call = _Call(details.method, handler.request_deserializer)
        # The request arrives as bytes and is parsed inside the wrapper: grpcio would answer a
        # message that does not parse with UNKNOWN and the parser's error.
        serializer = handler.response_serializer
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(_unary(handler.unary_unary, call), None, serializer)
        if handler.unary_stream:
            behaviour = handler.unary_stream
            # A streaming method is a generator of its messages, or a coroutine that writes them
            # with `context.write` (grpcio's health Watch): the wrapper must be of the same kind.
            wrapped = _stream(behaviour, call) if inspect.isasyncgenfunction(behaviour) else _unary(behaviour, call)
            return grpc.unary_stream_rpc_method_handler(wrapped, None, serializer)
        return handler  # Warden offers no client-streaming methods


@dataclass(frozen=True)
class _Call:
    method: str
    deserialize: Callable[[bytes], Any] | None

    async def request(self, raw: Any, context: grpc.aio.ServicerContext) -> Any:
        if self.deserialize is None:
            return raw
        try:
            return self.deserialize(raw)
        except Exception:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, MALFORMED_DETAILS)


def _unary(behaviour: Callable[..., Any], call: _Call) -> Callable[..., Awaitable[Any]]:
    async def shielded(raw: Any, context: grpc.aio.ServicerContext) -> Any:
        request = await call.request(raw, context)
        try:
            answer = behaviour(request, context)
            return await answer if inspect.isawaitable(answer) else answer
        except grpc.aio.AbortError:
            raise  # a status the servicer chose
        except Exception as exc:
            await _abort_for(exc, call.method, context)

    return shielded


def _stream(behaviour: Callable[..., AsyncIterator[Any]], call: _Call) -> Callable[..., AsyncIterator[Any]]:
    async def shielded(raw: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        request = await call.request(raw, context)
        try:
            async for message in behaviour(request, context):
                yield message
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _abort_for(exc, call.method, context)

    return shielded


async def _abort_for(exc: Exception, method: str, context: grpc.aio.ServicerContext) -> None:
    if dependency_down(exc):
        log.warning("a dependency is unavailable answering gRPC %s: %s", method, type(exc).__name__)
        await context.abort(grpc.StatusCode.UNAVAILABLE, UNAVAILABLE_DETAILS)
    log.exception("unexpected error answering gRPC %s", method)
    await context.abort(grpc.StatusCode.INTERNAL, INTERNAL_DETAILS)
