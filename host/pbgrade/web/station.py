"""The operator's panel of `pbgrade station --web`: the page, its stream of changes (server-sent events)
and the one thing it can do, start the test of the unit placed in a channel by scanning its serial."""
import asyncio
import json
import signal
import time
from importlib.resources import files

from ..i18n import _, language
from ..shift import StationError
from .board import Board
from .server import Server, announce, listening_socket, same_origin_json

KEEPALIVE_S = 15.0  # a comment line this often: a page whose tab was closed is noticed, a proxy keeps the stream


def page_words() -> dict:
    """The page's own words in the language in use (the tiles' come from the board)."""
    return {"title": _("pbgrade station"), "serial": _("serial number"), "step": _("step {n}/{steps}: {step}"),
            "left": _("left: step {step}, test {test}"), "lost": _("the station stopped: this page no longer updates"),
            "yield": _("shift")}


def station_app(board: Board):
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
    from starlette.routing import Route

    template = files(__package__).joinpath("station.html").read_text(encoding="utf-8")
    page = (template.replace("{{LANG}}", language()).replace("{{TITLE}}", page_words()["title"])
            .replace("{{WORDS}}", json.dumps(page_words(), ensure_ascii=False).replace("</", "<\\/")))

    async def index(request):
        return HTMLResponse(page)

    async def events(request):
        return StreamingResponse(changes(board), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def scan(request):
        if not same_origin_json(request):
            return JSONResponse({"error": "send the scan as JSON from the panel's own page"}, status_code=403)
        try:
            body = await request.json()
            number, serial = int(body["channel"]), str(body["serial"]).strip()
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'give {"channel": N, "serial": "SN"}'}, status_code=400)
        channel = next((c for c in board.session.channels if c.number == number), None)
        if channel is None or not serial:
            return JSONResponse({"error": f"no channel {number} or no serial number"}, status_code=400)
        try:
            board.session.scan_into(channel, serial)
        except StationError as e:
            return JSONResponse({"error": str(e)}, status_code=409)
        return JSONResponse({"queued": serial, "channel": number})

    return Starlette(routes=[Route("/", index), Route("/events", events), Route("/scan", scan, methods=["POST"])])


async def changes(board: Board):
    """The server-sent events of one page: every tile and the tally at once, then what changes."""
    subscriber = board.subscribe()
    seen = 0
    try:
        while not board.closed:
            subscriber.changed.clear()
            tiles, tally, seen = board.since(seen)
            if tiles or tally is not None:
                yield f"data: {json.dumps({'tiles': tiles, 'tally': tally}, ensure_ascii=False)}\n\n"
            try:
                await asyncio.wait_for(subscriber.changed.wait(), KEEPALIVE_S)
            except TimeoutError:
                yield ": still here\n\n"
        yield "event: closed\ndata: {}\n\n"
    finally:
        board.unsubscribe(subscriber)


class StationPanel:
    """`pbgrade station --web`: the session's channels on the page, serials from the page's fields.

    Made before any channel starts, so that a --bind that cannot be served is refused first."""

    def __init__(self, bind, token):
        self.sock = listening_socket(bind, token)
        self.token = token
        self.board = Board()

    def views(self, view):
        """The session's view: the terminal's (or plain lines) and the page's."""
        def both(session, channel):
            view(session, channel)
            self.board(session, channel)
        return both

    def run(self, session):
        """Serve the page while the session runs, until Ctrl-C or SIGTERM ends the shift (units in test are
        stopped: load off, saved as aborted); the session's records."""
        self.board.attach(session)
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            with Server(station_app(self.board), self.sock, self.token):
                announce("operator panel", self.sock, self.token)
                try:
                    return session.run(_until_stopped())
                except KeyboardInterrupt:
                    return session.records
                finally:
                    self.board.close()
        finally:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _until_stopped():
    """No serials from the terminal (they come from the page): an empty line now and then, so that the
    session still sees every channel out of service and ends."""
    while True:
        time.sleep(0.5)
        yield ""
