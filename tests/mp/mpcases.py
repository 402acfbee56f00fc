# The micropython test scripts' harness: a script defines test_* functions and
# ends with run(globals()). Each case runs on its own and reports one line,
# `CASE {"name": ..., "ok": ..., "message": ...}`, which tests/test_micropython.py
# turns into a pytest item of its own; a failing case does not stop the others.
import gc
import io
import json
import sys

PREFIX = "CASE "


def run(namespace):
    """Run every test_* function of a script, in name order (cases do not
    depend on each other), and exit 1 if any failed."""
    failed = 0
    for name in sorted(k for k in namespace if k.startswith("test_")):
        gc.collect()
        message = ""
        try:
            namespace[name]()
        except Exception as e:
            trace = io.StringIO()
            sys.print_exception(e, trace)
            message = trace.getvalue()
            failed += 1
        print(PREFIX + json.dumps({"name": name, "ok": not message, "message": message}))
    if failed:
        sys.exit(1)
