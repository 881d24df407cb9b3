#!/usr/bin/env python3
"""Per-operation coverage of the API fuzz test, from the server's access log.

The server, started with `CAUCUS_LOG_FORMAT=json` and `CAUCUS_LOG=info`, logs one JSON line per
request at target `caucus::access` (method, path, status). This maps every request after the
given line (the fixture's own requests come before it) onto the operation of the OpenAPI
document whose path template matches, counts answers by status class, writes the table as text
and JSON, prints it, and exits 1 when an operation never got a 2xx and is not in ALLOWED below.

Usage: api-coverage.py SPEC_JSON ACCESS_LOG SKIP_LINES OUT_DIR
"""

import json
import os
import re
import sys

# Operations that may finish a run without a 2xx, each with the reason. Keep it empty unless
# the server cannot answer 2xx to any request schemathesis is able to make.
ALLOWED = {
    ("GET", "/v1/recordings/{recording_id}/files/{name}"): "the fixture's peers send no media, so "
    "its recording has no file to download (crates/caucus-client/tests/e2e_recording.rs "
    "downloads real ones, whole and by range)",
}

METHODS = {"get", "put", "post", "patch", "delete"}
CLASSES = ["2xx", "3xx", "4xx", "5xx"]


def operations(spec):
    """(method, template, regex) for every operation, literal paths before templated ones."""
    found = []
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        literal = template.count("{")
        for method in item:
            if method in METHODS:
                found.append((literal, method.upper(), template, re.compile(pattern)))
    found.sort(key=lambda o: o[0])
    return [(m, t, r) for _, m, t, r in found]


def access_lines(path, skip):
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f):
            if number < skip:
                continue
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("target") != "caucus::access":
                continue
            fields = entry.get("fields", entry)
            yield fields.get("method"), fields.get("path"), int(fields.get("status", 0))


def main():
    spec_path, log_path, skip, out_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with open(spec_path) as f:
        ops = operations(json.load(f))
    counts = {(m, t): {c: 0 for c in CLASSES} for m, t, _ in ops}
    statuses = {(m, t): {} for m, t, _ in ops}
    unmatched = 0
    for method, path, status in access_lines(log_path, skip):
        for m, t, regex in ops:
            if m == method and regex.match(path or ""):
                counts[(m, t)][f"{status // 100}xx"] = counts[(m, t)].get(f"{status // 100}xx", 0) + 1
                statuses[(m, t)][str(status)] = statuses[(m, t)].get(str(status), 0) + 1
                break
        else:
            unmatched += 1

    width = max(len(f"{m} {t}") for m, t, _ in ops)
    lines = [f"{'operation':<{width}}  " + "  ".join(f"{c:>5}" for c in CLASSES) + "  statuses"]
    missing, total, reached = [], 0, 0
    for m, t, _ in ops:
        row = counts[(m, t)]
        total += sum(row.values())
        detail = " ".join(f"{s}:{n}" for s, n in sorted(statuses[(m, t)].items()))
        mark = ""
        if row["2xx"] == 0:
            if (m, t) in ALLOWED:
                mark = f"  (allowed: {ALLOWED[(m, t)]})"
            else:
                mark = "  <- never 2xx"
                missing.append(f"{m} {t}")
        else:
            reached += 1
        lines.append(f"{m + ' ' + t:<{width}}  " + "  ".join(f"{row[c]:>5}" for c in CLASSES) + f"  {detail}{mark}")
    lines.append(
        f"{len(ops)} operations, {reached} answered 2xx at least once, {total} requests"
        f" ({unmatched} outside the document)"
    )
    text = "\n".join(lines) + "\n"
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "api-coverage.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "api-coverage.json"), "w") as f:
        json.dump(
            [{"method": m, "path": t, "classes": counts[(m, t)], "statuses": statuses[(m, t)]} for m, t, _ in ops],
            f,
            indent=1,
        )
    print(text, end="")
    if missing:
        print(f"api-coverage: {len(missing)} operation(s) never answered 2xx: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
