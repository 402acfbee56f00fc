"""Serving a page: where it listens, who may open it, and the server in a thread beside the station.

Starlette (routing, responses, streaming) under uvicorn (HTTP/1.1, server-sent events): a maintained ASGI
pair, where writing HTTP parsing, keep-alive and streaming by hand would be code of our own to secure.

Bound to the loopback by default: only this computer's browser sees it. Any other address needs a token
(--token), and then every request carries it (?token=... in the address, or an Authorization: Bearer
header): the panel starts tests, and a factory network is not a place to trust. The one request that
changes anything (a scan) must be JSON from the page's own origin, which a form on another site cannot send.
"""
import hmac
import ipaddress
import socket
import sys
import threading
from urllib.parse import parse_qs

DEFAULT_BIND = "127.0.0.1:8080"


class WebError(ValueError):
    """A page that cannot be served as asked, as one line."""


def listening_socket(bind: str, token: str | None) -> socket.socket:
    """The socket bound to HOST:PORT (PORT 0: any free one); a non-loopback address without a token is refused."""
    host, sep, port = bind.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise WebError(f"--bind {bind}: give HOST:PORT, e.g. {DEFAULT_BIND} (port 0: any free port)")
    try:
        addresses = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise WebError(f"--bind {bind}: {host} is not an address of this computer ({e.strerror})") from None
    family, _, _, _, address = addresses[0]
    if not token and not all(ipaddress.ip_address(a[4][0]).is_loopback for a in addresses):
        raise WebError(f"--bind {bind}: that is reachable from the network: give --token SECRET too (every "
                       f"request then needs it), or bind 127.0.0.1")
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)  # connections wait from now on, before the server's loop takes them
    except OSError as e:
        sock.close()
        raise WebError(f"--bind {bind}: cannot listen there ({e.strerror}): pick another port") from None
    return sock


def address(sock: socket.socket, token: str | None) -> str:
    """The page's address as a browser opens it, its token included."""
    host, port = sock.getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/" + (f"?token={token}" if token else "")


class TokenGate:
    """ASGI middleware: with a token, a request without it gets 401 and one line."""

    def __init__(self, app, token):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.token and not self._carries_token(scope):
            from starlette.responses import PlainTextResponse

            response = PlainTextResponse("pbgrade: this page needs its token: open the address the station "
                                         "printed (it ends in ?token=...)\n", status_code=401)
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)

    def _carries_token(self, scope) -> bool:
        given = parse_qs(scope.get("query_string", b"").decode()).get("token", [""])[0]
        for name, value in scope["headers"]:
            if name == b"authorization" and value.decode().startswith("Bearer "):
                given = value.decode()[len("Bearer "):]
        return hmac.compare_digest(given.encode(), self.token.encode())


def same_origin_json(request) -> bool:
    """A request only the page itself can make: JSON (a cross-site form cannot send it without the
    browser asking first, which we never allow) and, where the browser says, from our own origin."""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return request.headers.get("content-type", "").startswith("application/json") and origin in (None, own)


class Server:
    """An ASGI app served by uvicorn in a thread of its own, on a socket already bound (listening_socket)."""

    def __init__(self, app, sock, token=None):
        import uvicorn

        config = uvicorn.Config(TokenGate(app, token), log_level="warning", timeout_graceful_shutdown=2,
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True,
                                       name="web")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def announce(what: str, sock, token):
    print(f"pbgrade: {what} on {address(sock, token)}", file=sys.stderr, flush=True)
