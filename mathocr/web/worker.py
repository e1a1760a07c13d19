"""gunicorn's ``gthread`` worker, changed in two ways for serving without a proxy in front.

1. Requests are read by the worker's event loop, not by a request thread: the head,
   and a body of up to :data:`BODY_BUFFER_BYTES` announced by ``Content-Length``. Stock
   ``gthread`` (gunicorn 27) hands every new connection to a thread, which waits up to
   5 s for its first byte and then blocks until the request is read: measured on the
   2-core reference machine, with 200 idle connections open to 2 workers x 4 threads,
   ``/healthz`` probes timed out after 20 s, and a slow-sending client holds a thread
   for as long as it likes. Here a thread gets a connection only once its request has
   arrived; a head still incomplete :data:`HEAD_TIMEOUT_S` after its first byte, or a
   small body :data:`BODY_TIMEOUT_S` after its head, is answered 408 and closed, and a
   connection silent for ``keepalive`` seconds is closed. Idle and slow connections
   cost a file descriptor each, not a thread. Larger or chunked bodies are read by the
   request thread, one ``recv`` waiting at most :data:`RECV_TIMEOUT_S`.
2. New connections go to the worker holding the fewest ("least connections"). Workers
   share the listening socket and the kernel gives a connection to whichever asks first,
   and a keep-alive client then stays: measured with 8 clients on 2 workers, splits of
   8/0, 7/1 and 6/2 were common, and the p50 latency was 1.3-1.6 times the balanced
   server's. Each worker publishes its count in memory shared across the fork
   (:func:`pre_fork` gives each a slot) and listens only while it holds no more than
   any other, so the least loaded always listens.
3. Errors that gunicorn answers itself (a malformed request line, a header over the
   limit, a bad ``Content-Length``) are JSON of the app's one error shape, not HTML.

Use it with the hooks :func:`pre_fork` and :func:`child_exit` (``mathocr serve`` does);
without them it does not balance.
"""

from __future__ import annotations

import errno
import json
import mmap
import os
import re
import time
from functools import partial
from http import HTTPStatus
from selectors import EVENT_READ
from typing import Any

from gunicorn import util
from gunicorn.workers import gthread

from mathocr.errors import HTTP_CODES

__all__ = ["HEAD_TIMEOUT_S", "RECV_TIMEOUT_S", "ThreadWorker", "child_exit", "json_error_bytes", "pre_fork"]

HEAD_TIMEOUT_S = 10.0
"""Longest time from a request's first byte to the end of its head."""

BODY_BUFFER_BYTES = 1 << 20
"""Bodies up to this size (a drawing is 10-50 KB) are read by the event loop too."""

BODY_TIMEOUT_S = 30.0
"""Longest time from the end of a request head to the end of its body, for those bodies."""

RECV_TIMEOUT_S = 10.0
"""Longest wait for the next piece of a larger body, read by the request thread."""

_SLOTS = 16  # room for 8 workers and their replacements during a graceful reload
_UNKNOWN = 2**31 - 1  # a slot with no worker serving (free, booting): holds no one back
# Made when gunicorn imports this worker class in the master, so every worker forked
# from it shares them: each worker's open connections, and a pipe per slot by which a
# worker that stops listening wakes the one that should listen now.
_counts = memoryview(mmap.mmap(-1, 4 * _SLOTS)).cast("i")
_wake: list[tuple[int, int]] = []
for _slot in range(_SLOTS):
    _counts[_slot] = _UNKNOWN
    _wake.append(os.pipe())
    for _fd in _wake[-1]:
        os.set_blocking(_fd, False)

_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d{1,15})[ \t]*\r\n")


def _phrase(status: int, default: str = "Error") -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return default


def _limit_message(status: int, cfg: Any) -> str:
    """What the client did wrong, in terms of mathocr's own limits (never the raw input)."""
    if status == 414:
        return f"The request line is too long: the limit is {cfg.limit_request_line:,} bytes."
    if status == 431:
        return (
            f"The request headers are too large: the limits are {cfg.limit_request_fields} headers "
            f"of at most {cfg.limit_request_field_size:,} bytes each."
        )
    if status == 408:
        return (
            f"The request did not arrive in time: the limits are {HEAD_TIMEOUT_S:g} s for its head "
            f"and {BODY_TIMEOUT_S:g} s more for a body."
        )
    if status == 501:
        return "Only the transfer codings chunked and identity are accepted."
    if status >= 500:
        return "Something went wrong on the server. Please try again."
    return "The request is not valid HTTP (request line, headers or Content-Length)."


def json_error_bytes(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 error response (headers and JSON body) that closes the connection.

    Examples
    --------
    >>> json_error_bytes(431, "Request Header Fields Too Large", "Too big.").split(b"\\r\\n")[0]
    b'HTTP/1.1 431 Request Header Fields Too Large'
    """
    body = json.dumps({"error": {"code": HTTP_CODES.get(status, "http_error"), "message": message}})
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Content-Type-Options: nosniff\r\n\r\n"
    )
    return (head + body).encode("latin-1")


def _buffered_body_length(head: bytes) -> int:
    """How many body bytes the event loop should wait for after ``head``: 0 means none.

    Only a single, small ``Content-Length``: a chunked or large body, an ambiguous one
    (the parser refuses it) and one the client sends only after ``100 Continue`` are
    read by the request thread.

    Examples
    --------
    >>> _buffered_body_length(b"POST / HTTP/1.1\\r\\nContent-Length: 12\\r\\n\\r\\n")
    12
    >>> _buffered_body_length(b"POST / HTTP/1.1\\r\\nExpect: 100-continue\\r\\nContent-Length: 9\\r\\n\\r\\n")
    0
    """
    lower = head.lower()
    if b"\r\nexpect:" in lower or b"\r\ntransfer-encoding:" in lower:
        return 0
    lengths = _CONTENT_LENGTH.findall(lower)
    if len(lengths) != 1 or int(lengths[0]) > BODY_BUFFER_BYTES:
        return 0
    return int(lengths[0])


class _Conn(gthread.TConn):
    """A connection with the bytes the event loop read before a thread took it."""

    head = b""
    head_started: float | None = None
    body_deadline: float | None = None

    def init(self) -> None:
        super().init()  # a no-op after the first request on the connection
        if self.head:
            self.parser.unreader.unread(self.head)
            self.head = b""
        self.head_started = self.body_deadline = None
        # A body that stops arriving releases its thread instead of holding it forever.
        self.sock.settimeout(RECV_TIMEOUT_S)


def pre_fork(server: Any, worker: Any) -> None:
    """gunicorn hook (master): give the worker about to be forked a free balancing slot."""
    used = {getattr(w, "mathocr_slot", None) for w in server.WORKERS.values()}
    worker.mathocr_slot = next((i for i in range(_SLOTS) if i not in used), None)
    if worker.mathocr_slot is not None:
        _counts[worker.mathocr_slot] = _UNKNOWN


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook (master): free the slot of a worker that exited."""
    slot = getattr(worker, "mathocr_slot", None)
    if slot is not None:
        _counts[slot] = _UNKNOWN


class ThreadWorker(gthread.ThreadWorker):
    """``gthread`` that reads requests in its event loop, balances connections across
    workers and answers protocol errors as JSON."""

    # A worker not listening looks at the others' counts this often, besides being woken.
    _BALANCE_POLL_S = 0.05

    def _least_loaded(self) -> bool:
        slot = getattr(self, "mathocr_slot", None)
        if slot is None:
            return True
        _counts[slot] = self.nr_conns
        return self.nr_conns <= min(_counts)

    def set_accept_enabled(self, enabled: bool) -> None:
        # gunicorn's loop asks to listen whenever below worker_connections; listening
        # also waits for this worker to be the least loaded.
        was = self._accepting
        super().set_accept_enabled(enabled and self.alive and self._least_loaded())
        if was and not self._accepting and self.alive:
            # Whoever holds fewest may not have looked since it stopped listening.
            least = min(range(_SLOTS), key=_counts.__getitem__)
            if _counts[least] != _UNKNOWN and least != getattr(self, "mathocr_slot", None):
                try:
                    os.write(_wake[least][1], b"!")
                except OSError:  # the pipe is full: it has been woken already
                    pass

    def _woken(self, fd: int) -> None:
        try:
            while os.read(fd, 512):
                pass
        except OSError:  # drained
            pass

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self.alive:
            self.set_accept_enabled(self.nr_conns < self.worker_connections)
            if not self._accepting:
                # Another worker's count may drop below ours at any moment: look again soon.
                timeout = min(timeout, self._BALANCE_POLL_S)
        super().wait_for_and_dispatch_events(timeout)

    def init_process(self) -> None:
        cfg = self.cfg

        def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
            # gunicorn's own message may quote the offending bytes; ours names the limit.
            reason = _phrase(status_int, reason)
            util.write_nonblock(sock, json_error_bytes(status_int, reason, _limit_message(status_int, cfg)))

        # gunicorn answers protocol errors through this one function; in this worker
        # process they all become the app's JSON shape.
        util.write_error = write_error
        super().init_process()

    def run(self) -> None:
        slot = getattr(self, "mathocr_slot", None)
        if slot is not None:
            # Being woken is enough: the loop looks at the counts before every wait.
            self._woken(_wake[slot][0])  # left over from this slot's previous worker
            self.poller.register(_wake[slot][0], EVENT_READ, self._woken)
        super().run()

    def accept(self, listener: Any) -> None:
        try:
            sock, addr = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        self._await_head(_Conn(self.cfg, sock, addr, listener.getsockname()))

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        # A kept-alive connection's next request is read like a new one's.
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_head(conn)
        self._on_head_data(conn, client)

    def _await_head(self, conn: _Conn) -> None:
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, EVENT_READ, partial(self._on_head_data, conn))

    def _on_head_data(self, conn: _Conn, client: Any) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop_pending(conn)
            return
        if conn.head_started is None:
            conn.head_started = time.monotonic()
            conn.timeout = conn.head_started + HEAD_TIMEOUT_S
        conn.head += data
        end = conn.head.find(_HEAD_END)
        if end < 0:
            # The head limits are the parser's to enforce (it answers 414/431): past
            # them, hand over whatever has come.
            if len(conn.head) > self._head_cap():
                self._dispatch(conn)
            return
        body = _buffered_body_length(conn.head[: end + 4])
        if len(conn.head) >= end + 4 + body:
            self._dispatch(conn)
        elif conn.body_deadline is None:
            # A small body is read here too, so a client sending it slowly holds no thread.
            conn.body_deadline = conn.timeout = time.monotonic() + BODY_TIMEOUT_S

    def _dispatch(self, conn: _Conn) -> None:
        self.poller.unregister(conn.sock)
        self.pending_conns.remove(conn)
        conn.data_ready = True
        self.enqueue_req(conn)

    def _head_cap(self) -> int:
        cfg = self.cfg
        return cfg.limit_request_line + cfg.limit_request_fields * (cfg.limit_request_field_size + 2) + 4

    def _drop_pending(self, conn: _Conn, answer: bytes | None = None) -> None:
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        self.pending_conns.remove(conn)
        self.nr_conns -= 1
        if answer:
            try:
                util.write_nonblock(conn.sock, answer)
            except OSError:
                pass
        conn.close()

    def murder_pending(self) -> None:
        # Idle (keepalive) and head (HEAD_TIMEOUT_S) deadlines differ, so the queue is
        # not in deadline order: look at every entry (at most worker_connections).
        now = time.monotonic()
        # A stopping worker does not wait for connections that have not begun a request.
        for conn in [c for c in self.pending_conns if c.timeout <= now or not (self.alive or c.head)]:
            late = getattr(conn, "head_started", None) is not None
            reply = json_error_bytes(408, _phrase(408), _limit_message(408, self.cfg)) if late else None
            self._drop_pending(conn, reply)
