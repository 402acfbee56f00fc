"""Numbers and tables as the benchmarks print them (bench/__main__.py, bench/compare.py)."""


def fmt(value, signed=False, missing="n/a"):
    if value is None:
        return missing
    if signed:
        return f"{value:+.4f}"
    if value == 0 or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def render(rows, markdown, right):
    """rows[0] is the header; the columns in `right` (numbers) right-aligned."""
    if markdown:
        lines = ["| " + " | ".join(r) + " |" for r in rows]
        lines.insert(1, "|" + "".join("--:|" if c in right else "---|" for c in range(len(rows[0]))))
        return "\n".join(lines)
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(w) if c in right else cell.ljust(w) for c, (cell, w) in
                               enumerate(zip(r, widths))).rstrip() for r in rows)
