"""The embedded AWS emulator: moto's server on a loopback port, owned by the local stack."""

from __future__ import annotations

import copy
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.http_api.events import domain_name
from infra.local.aws import AwsEndpoint
from infra.local.ports import ensure_port_free, is_loopback

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


_TRANSACT_WRITE = "DynamoDB_20120810.TransactWriteItems"
_IDEMPOTENCY_SECONDS = 600


class SerializedApp:
    """moto's app with one request at a time.

    moto applies a conditional write or a transaction in several Python steps, and a threaded
    server interleaves them: two
    writes conditioned on the same state could both pass. DynamoDB evaluates conditions
    atomically; serializing the emulator restores that, which the concurrency guarantees
    (single-use tokens, one owner, exact rate limits) rely on.
    """

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._transactions = IdempotentTransactions()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._lock:
            if environ.get("HTTP_X_AMZ_TARGET") == _TRANSACT_WRITE:
                return self._transactions.apply(self._app, environ, start_response)
            # moto answers with a complete body, so the work is done inside the lock.
            return list(self._app(environ, start_response))


class LocalCallersOnly:
    """The emulator answers AWS SDKs on this machine, never a web page. A page of any site can
    send requests to 127.0.0.1, and moto answers CORS preflights for every origin: so a request
    that carries an `Origin` (browsers add it; SDKs never do) is refused, and, bound to a
    loopback address, so is one whose Host is not a loopback name (DNS rebinding)."""

    def __init__(self, app: WsgiApp, bound_to: str) -> None:
        self._app = app
        self._check_host = is_loopback(bound_to)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        host = str(environ.get("HTTP_HOST") or "localhost")
        if "HTTP_ORIGIN" in environ or (
            self._check_host and not is_loopback(domain_name({"host": host}))
        ):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"The emulator answers AWS SDKs on this machine only."]
        return self._app(environ, start_response)


@dataclass
class _Answer:
    request_body: bytes
    status: str
    headers: list[tuple[str, str]]
    body: list[bytes]
    at: float


class IdempotentTransactions:
    """DynamoDB's `ClientRequestToken`, which moto ignores: a transaction repeated with the
    same token within ten minutes is answered as the first time, without applying it again.

    botocore retries a call whose answer timed out with the same token; without this, a slow
    emulator turns that retry of a create into a conflict with its own first attempt. A token
    repeated with other parameters is refused as DynamoDB refuses it. Only successes are kept:
    a cancelled transaction applied nothing, so running it again is what DynamoDB does too.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._answers: dict[str, _Answer] = {}
        self._clock = clock

    def apply(
        self, app: WsgiApp, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        request_body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(request_body)
        token = json.loads(request_body or b"{}").get("ClientRequestToken")
        now = self._clock()
        # Answers are kept in the order they were given: the expired ones are at the front.
        while self._answers:
            oldest = next(iter(self._answers))
            if now - self._answers[oldest].at < _IDEMPOTENCY_SECONDS:
                break
            del self._answers[oldest]
        earlier = self._answers.get(token) if token else None
        if earlier is not None:
            if earlier.request_body != request_body:
                return _mismatch(start_response)
            start_response(earlier.status, earlier.headers)
            return earlier.body
        answered: dict[str, Any] = {}

        def remembering_start_response(status: str, headers: list[tuple[str, str]]) -> Any:
            answered.update(status=status, headers=headers)
            return start_response(status, headers)

        body = list(app(environ, remembering_start_response))
        if token and answered["status"].startswith("200"):
            self._answers[token] = _Answer(
                request_body, answered["status"], answered["headers"], body, now
            )
        return body


def _mismatch(start_response: Callable[..., Any]) -> list[bytes]:
    body = json.dumps(
        {
            "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
            "message": "The request uses the same client token as a previous, but not "
            "identical request.",
        }
    ).encode()
    start_response(
        "400 Bad Request",
        [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))],
    )
    return [body]


class _TablesNotCopied:
    """Stands for the `copy` module inside moto's DynamoDB backend while a transaction runs:
    deep-copies anything but a whole table (see `roll_back_only_touched_items`)."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any) -> Any:
        return value if isinstance(value, self._table_type) else copy.deepcopy(value)


_PATCH_LOCK = threading.Lock()


def roll_back_only_touched_items() -> None:
    """Make moto's `TransactWriteItems` keep, for its rollback, a copy of the items it touches
    instead of a deep copy of each whole table it names (28 % of the integration tier's CPU,
    and growing with the table). Idempotent; the result is the same: a cancelled transaction
    leaves every item it named, and the table's stream, as they were.

    moto 5.2.5 (`DynamoDBBackend.transact_write_items`) copies and restores whole tables; here
    its copies are identities, and the touched items are restored by this wrapper. A candidate
    for upstream: the same change inside moto is a few lines.
    """
    from moto.dynamodb import models  # noqa: PLC0415 - moto is slow to import; see start()
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "_railguard_touched_only", False):
        return
    whole_table_copy = backend.transact_write_items

    def touched(self: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
        """(table, hash key, range key, a copy of the item or None) for each item named."""
        saved = []
        for entry in transact_items:
            for operation in entry.values():
                table = self.tables.get(operation.get("TableName"))
                attributes = operation.get("Key") or operation.get("Item") or {}
                if table is None or table.hash_key_attr not in attributes:
                    continue
                hash_key = DynamoType(attributes[table.hash_key_attr])
                range_key = None
                if table.range_key_attr is not None:
                    if table.range_key_attr not in attributes:
                        continue
                    range_key = DynamoType(attributes[table.range_key_attr])
                current = table.get_item(hash_key, range_key)
                saved.append((table, hash_key, range_key, copy.deepcopy(current)))
        return saved

    def restore(saved: list[tuple[Any, Any, Any, Any]], streams: dict[Any, int]) -> None:
        for table, hash_key, range_key, item in reversed(saved):
            if item is None:
                if table.get_item(hash_key, range_key) is not None:
                    if range_key is None:
                        table.items.pop(hash_key)
                    else:
                        table.items[hash_key].pop(range_key)
            elif range_key is None:
                table.items[hash_key] = item
            else:
                table.items[hash_key][range_key] = item
        for shard, length in streams.items():
            del shard.items[length:]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _PATCH_LOCK, _module_copy_replaced(models, _TablesNotCopied(Table)):
            saved = touched(self, transact_items)
            streams = {
                table.stream_shard: len(table.stream_shard.items)
                for table, *_ in saved
                if table.stream_shard is not None
            }
            try:
                whole_table_copy(self, transact_items)
            except Exception:
                restore(saved, streams)
                raise

    transact_write_items._railguard_touched_only = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]


@contextmanager
def _module_copy_replaced(module: Any, stand_in: Any) -> Iterator[None]:
    original = module.copy
    module.copy = stand_in
    try:
        yield
    finally:
        module.copy = original


class MotoEmulator:
    """moto's server on `host:port` (port 0 picks a free one), serving from a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 4566) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> AwsEndpoint:
        # A bind that fails in the server thread would go unnoticed: check first.
        ensure_port_free(self._host, self._port, "AWS_PORT")
        # Imported here: moto takes a third of a second to import, and a stack given
        # AWS_ENDPOINT_URL never needs it.
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server  # noqa: PLC0415

        roll_back_only_touched_items()
        # werkzeug logs every request at INFO; the emulator's traffic is noise in `make dev`.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = LocalCallersOnly(
            SerializedApp(DomainDispatcherApplication(create_backend_app)), self._host
        )
        self._server = make_server(
            self._host, self._port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return AwsEndpoint(url=f"http://{self._host}:{self._server.server_port}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
