"""The call pipeline every RPC goes through: identity, permission, deadline, errors, logs, metrics.

One interceptor wraps the handler's behaviour (as grpc's latency-interceptor example does), so
a handler only ever raises :class:`~hoso.common.errors.HosoError` subclasses and the mapping
to a status happens here, in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from hoso.common import auth, telemetry
from hoso.common.errors import DeadlineExceeded, HosoError

__all__ = ["CallPipeline", "status_for"]

log = logging.getLogger("hoso.rpc")


def status_for(error: HosoError) -> grpc.Status:
    """The rich status for a known error (with a field violation for bad input)."""
    details = []
    if error.field:
        violation = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=error.field, description=error.message
                )
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(violation)
        details.append(packed)
    if error.retryable:
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromMilliseconds(1000)
        packed = any_pb2.Any()
        packed.Pack(retry)
        details.append(packed)
    message = (
        error.message
        if not error.field or error.field in error.message
        else f"{error.field}: {error.message}"
    )
    return rpc_status.to_status(
        status_pb2.Status(code=getattr(code_pb2, error.code.name), message=message, details=details)
    )


def _peer_common_names(context: grpc.aio.ServicerContext) -> list[str]:
    try:
        auth_context = context.auth_context()
    except Exception:
        return []
    return [value.decode() for value in auth_context.get("x509_common_name", [])]


class CallPipeline(grpc.aio.ServerInterceptor):
    """Authenticates, authorises and times each call, and maps errors to statuses."""

    def __init__(self, authenticator: auth.Authenticator, *, default_deadline: float) -> None:
        self._authenticator = authenticator
        self._default_deadline = default_deadline

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        metadata = tuple(details.invocation_metadata or ())
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method, metadata),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap_unary(handler.stream_unary, method, metadata),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method, metadata),
                handler.request_deserializer,
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            self._wrap_stream(handler.stream_stream, method, metadata),
            handler.request_deserializer,
            handler.response_serializer,
        )

    def _admit(
        self, method: str, metadata: tuple[Any, ...], context: grpc.aio.ServicerContext
    ) -> auth.Caller:
        return self._authenticator.authorize(metadata, _peer_common_names(context), method)

    @contextlib.asynccontextmanager
    async def _call(
        self, method: str, metadata: tuple[Any, ...], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        """Admit the caller for the body of one call, then abort on error and record it.

        Shared by unary and streaming handlers: only how the behaviour is awaited differs.
        """
        started = time.monotonic()
        code = grpc.StatusCode.OK
        token = None
        try:
            token = auth.set_current_caller(self._admit(method, metadata, context))
            yield
        except Exception as error:
            code, status = self._status(error, method)
            await context.abort_with_status(status)
        finally:
            self._record(method, code, started)
            if token is not None:
                auth._current.reset(token)

    def _wrap_unary(self, behaviour: Callable[..., Any], method: str, metadata: tuple[Any, ...]):
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with self._call(method, metadata, context):
                budget = None if context.time_remaining() is not None else self._default_deadline
                async with asyncio.timeout(budget):
                    return await behaviour(request, context)

        return wrapper

    def _wrap_stream(self, behaviour: Callable[..., Any], method: str, metadata: tuple[Any, ...]):
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async with self._call(method, metadata, context):
                result = behaviour(request, context)
                if hasattr(result, "__aiter__"):
                    async for response in result:
                        yield response
                else:
                    await result

        return wrapper

    def _status(self, error: BaseException, method: str) -> tuple[grpc.StatusCode, grpc.Status]:
        """The status to answer with; re-raises cancellations and the handler's own aborts."""
        if isinstance(error, asyncio.CancelledError | grpc.aio.AbortError):
            raise error
        if isinstance(error, TimeoutError):
            error = DeadlineExceeded(
                "the call took longer than its deadline; retry with a longer deadline"
            )
        if isinstance(error, HosoError):
            level = logging.ERROR if error.code == grpc.StatusCode.INTERNAL else logging.WARNING
            log.log(
                level,
                "%s %s: %s",
                method,
                error.code.name,
                error.message,
                extra={"rpc": method, "code": error.code.name},
            )
            return error.code, status_for(error)
        log.exception(
            "%s INTERNAL: unexpected error", method, extra={"rpc": method, "code": "INTERNAL"}
        )
        return grpc.StatusCode.INTERNAL, rpc_status.to_status(
            status_pb2.Status(code=code_pb2.INTERNAL, message="internal error; it has been logged")
        )

    def _record(self, method: str, code: grpc.StatusCode, started: float) -> None:
        elapsed = time.monotonic() - started
        telemetry.record_rpc(method, code.name, elapsed)
        if code == grpc.StatusCode.OK:
            log.debug("%s OK %.1f ms", method, elapsed * 1000, extra={"rpc": method, "code": "OK"})
