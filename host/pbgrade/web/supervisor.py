"""`pbgrade supervisor`: the supervisor's page over the run database (the central one when set, as
`pbgrade stats` reads it): yield per station and method, the capability (Cpk) of what each method grades,
and what failed units failed on, over time. Plain HTML made here from the same figures as `pbgrade stats`
(history.judged); the page reloads itself every minute.
"""
import html
import json
import time
from collections import Counter, defaultdict
from datetime import datetime

from .. import wording
from ..history import HistoryError, judged, open_store
from ..i18n import N_, _, language
from ..stats import wilson_interval
from ..steps import QUANTITIES
from ..store import RunFilter, Store

RELOAD_S = 60
STOPPED = N_("stopped before the end")  # a failed run's reason that is no check's: it was aborted or the rig stopped it


def add_commands(sub):
    p = sub.add_parser("supervisor", help="the supervisor's page in a browser: yield, Cpk and failure reasons "
                                          "from the run database")
    p.add_argument("--bind", default="127.0.0.1:8081", help="HOST:PORT to serve it on (default: 127.0.0.1:8081, "
                                                             "this computer only; port 0: any free one)")
    p.add_argument("--token", help="a secret every request must carry; needed to bind an address the network reaches")
    p.add_argument("--local", action="store_true", help="this station's own runs, not the central database's")
    p.set_defaults(func=cmd_supervisor)


def cmd_supervisor(args):
    """Serve the page until Ctrl-C."""
    from .server import Server, announce, listening_socket

    store = open_store(args.local)  # a database that cannot be read is one line before anything is served
    sock = listening_socket(args.bind, args.token)
    with Server(supervisor_app(store), sock, args.token):
        announce("supervisor's page", sock, args.token)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def supervisor_app(store: Store):
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route
    from starlette.concurrency import run_in_threadpool

    async def index(request):
        return HTMLResponse(await run_in_threadpool(page, store))

    return Starlette(routes=[Route("/", index)])


def yields(rows) -> list[dict]:
    """Per station and method: the runs given a pass/fail or tier verdict, how many passed, the yield and its
    95 % Wilson interval; a screen's findings are counted apart (they neither pass nor fail)."""
    groups = defaultdict(list)
    for row in rows:
        groups[(row["station"], row["method"] or "-")].append(row)
    table = []
    for (station, method), runs in sorted(groups.items()):
        graded = [r for r in runs if r["kind"] != "screen"]
        passed = sum(r["passed"] for r in graded)
        interval = wilson_interval(passed, len(graded)) if graded else (None, None)
        table.append({"station": station, "method": method, "graded": len(graded), "passed": passed,
                      "yield": passed / len(graded) if graded else None, "wilson_95": interval,
                      "screened": len(runs) - len(graded)})
    return table


def capability(store: Store, methods) -> list[tuple[str, object]]:
    """(method, history.Batch) for each method: its runs against its latest run's profile's limits."""
    batches = []
    for method in methods:
        matching = RunFilter(method=method)
        latest = list(store.rows(["profile"], RunFilter(method=method, limit=1)))
        try:
            batches.append((method, judged(store, matching, latest[0]["profile"])))
        except HistoryError:
            continue
    return batches


def failure_reasons(store: Store) -> tuple[list[str], list[tuple[str, Counter, int]]]:
    """What failed runs failed on, per day (per hour when all are of one day): (the reasons, most frequent
    first; [(period, Counter of reasons, failed runs)]). A reason is the quantity of a decisive check, else
    STOPPED; a run failed on two counts under both."""
    failed = RunFilter(passed=False)
    verdict = store.record_field("verdict")
    runs = [(row["started_at"], store.dialect.json_value(row["verdict"]))
            for row in store.rows(["started_at", f"{verdict} AS verdict"], failed)]
    local = [(datetime.fromisoformat(started).astimezone(), v) for started, v in runs]
    hourly = len({t.date() for t, _ in local}) == 1
    periods, failed_runs = defaultdict(Counter), Counter()
    for t, v in local:
        quantity_of = {c["reason"]: c["quantity"] for c in v["checks"]}
        period = t.strftime("%Y-%m-%d %H:00" if hourly else "%Y-%m-%d")
        failed_runs[period] += 1
        for reason in v["reasons"]:
            quantity = quantity_of.get(reason)
            periods[period][wording.quantity_name(quantity) if quantity in QUANTITIES else _(STOPPED)] += 1
    total = sum(periods.values(), Counter())
    return ([reason for reason, _ in total.most_common()],
            [(period, periods[period], failed_runs[period]) for period in sorted(periods)])


def _percent(value) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _element(tag, text) -> str:
    return f"<{tag}>{html.escape(text)}</{tag}>"


def _table(table_id, header, rows) -> str:
    cell = html.escape
    head = "".join(f"<th>{cell(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def page(store: Store) -> str:
    """The whole page, from the store as it is now."""
    rows = store.runs()
    e = html.escape
    parts = [_element("p", _("{count} runs in {where}").format(count=len(rows), where=store.where))]
    if rows:
        parts.append(_element("h2", _("Yield per station and method")))
        parts.append(_table("yield", (_("station"), _("method"), _("graded"), _("passed"), _("yield"),
                                      _("95 % interval"), _("screened")),
                            [(y["station"], y["method"], y["graded"], y["passed"], _percent(y["yield"]),
                              "-" if y["yield"] is None else _("{low} to {high}").format(
                                  low=_percent(y["wilson_95"][0]), high=_percent(y["wilson_95"][1])), y["screened"])
                             for y in yields(rows)]))
        parts.append(_element("h2", _("Capability of the graded quantities")))
        for method, batch in capability(store, sorted({r["method"] for r in rows if r["method"]})):
            heading = _("method {method}: {count} runs, limits of profile {profile}").format(
                method=method, count=len(batch.rows), profile=batch.profile.name)
            parts.append(_element("h3", heading))
            parts.append(_table(f"cpk-{e(method)}", (_("quantity"), "n", _("mean"), "s", _("min"), _("max"),
                                                      _("limit"), "Cpk"),
                                [(wording.quantity_name(q.name), *q.cells()[1:]) for q in batch.quantities]))
        reasons, periods = failure_reasons(store)
        parts.append(_element("h2", _("Failure reasons over time")))
        parts.append(_table("reasons", (_("period"), *reasons, _("failed")),
                            [(period, *(counts[r] for r in reasons), runs) for period, counts, runs in periods])
                     if periods else _element("p", _("no failed run")))
        note = _("% : a ratio to the label (capacity, voltage, current), efficiency of the cells' rated energy. A "
                 "failed run counts once under each reason its verdict gives, and once under failed.")
        parts.append(_element("p", note))
    title = e(_("pbgrade supervisor"))
    reloads = _("reloads every {seconds} s").format(seconds=RELOAD_S)
    return f"""<!doctype html>
<html lang="{language()}"><head><meta charset="utf-8"><title>{title}</title>
<style>
  body {{ font-family: "Noto Sans", sans-serif; margin: 1em 2em; }}
  table {{ border-collapse: collapse; margin-bottom: 1em; }}
  th, td {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }}
  th:first-child, td:first-child, #yield td:nth-child(2) {{ text-align: left; }}
  thead {{ background: #eee; }}
</style></head>
<body><h1>{title}</h1>
{"".join(parts)}
<p id="updated"></p>
<script>
  document.getElementById("updated").textContent = new Date().toLocaleString() + {json.dumps("; " + reloads)};
  setTimeout(() => location.reload(), {RELOAD_S * 1000});
</script>
</body></html>"""
