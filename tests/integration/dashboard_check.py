#!/usr/bin/env python3
"""Checks a Grafana dashboard against a live Prometheus scraping a backfill.

    dashboard_check.py --api http://127.0.0.1:9090/api/v1 --job users \
        contrib/grafana/backfill.json

For every query of every panel, with Grafana's variables filled in ($job is
the given job), it asks Prometheus's HTTP API for an instant query and
reports, one line per query:

    ok        the expression parses and returns at least one series
    NO DATA   it parses but returns nothing (after retrying for --wait s)
    ERROR     Prometheus refuses it (a parse error, an unknown function...)
    absent    no data, but every backfill series it reads is in
              ALLOWED_ABSENT below

It also checks that the dashboard is templated on `job`: a `job` variable
whose label_values() query offers this job, and a $job filter in every
query. The last line is "dashboard: N passed, M failed"; the exit code is 1
when anything failed.
"""

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# Series the dashboard shows that this tree does not export (yet). A query
# with no data passes only if every backfill series it reads is listed here.
# Empty: every panel must return data during the demo's run.
ALLOWED_ABSENT = []

SERIES = re.compile(r"\bbackfill_[a-z0-9_]+")
HISTOGRAM_SUFFIX = re.compile(r"_(bucket|count|sum)$")


def api_get(api, path, params):
    """The "data" of a Prometheus API answer, or raises ValueError(error)."""
    url = "%s/%s?%s" % (api, path, urllib.parse.urlencode(params, doseq=True))
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:  # 400/422: the query was refused
        body = json.load(e)
    if body.get("status") != "success":
        raise ValueError("%s: %s" % (body.get("errorType"), body.get("error")))
    return body["data"]


def panels_of(dashboard):
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def substitute(expr, job, rate_interval):
    """The expression as Grafana would send it for this job."""
    values = {
        "job": re.escape(job),
        "__rate_interval": rate_interval,
        "__interval": "2s",
        "__range": "1m",
    }
    for name, value in values.items():
        expr = expr.replace("${%s}" % name, value)
        expr = re.sub(r"\$%s\b" % re.escape(name), lambda _: value, expr)
    return expr


def series_read(expr):
    """The backfill series an expression reads, histogram suffixes removed."""
    return {HISTOGRAM_SUFFIX.sub("", s) for s in SERIES.findall(expr)}


def allowed_absent(expr):
    """Whether every backfill series `expr` reads is in ALLOWED_ABSENT."""
    read = series_read(expr)
    return bool(read) and read <= set(ALLOWED_ABSENT)


class Checker:
    def __init__(self, api, job, wait, rate_interval):
        self.api, self.job, self.wait = api, job, wait
        self.rate_interval = rate_interval
        self.passed = 0
        self.failed = 0

    def report(self, ok, status, what, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("%-9s %s%s" % (status, what, ("\n          " + detail) if detail else ""))

    def check_template(self, dashboard):
        variables = dashboard.get("templating", {}).get("list", [])
        job_var = next((v for v in variables if v.get("name") == "job"), None)
        if job_var is None:
            self.report(False, "ERROR", "templating: no variable named job")
            return
        query = job_var.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        m = re.fullmatch(r"\s*label_values\(\s*([a-z_:]+)\s*,\s*job\s*\)\s*", query or "")
        if not m:
            self.report(False, "ERROR", "templating: $job is not label_values(SERIES, job)", query)
            return
        values = self.retry(lambda: api_get(self.api, "label/job/values",
                                            {"match[]": m.group(1)}))
        if isinstance(values, ValueError) or self.job not in values:
            self.report(False, "NO DATA", "templating: $job = %s" % query,
                        "job %r not among %s" % (self.job, values))
        else:
            self.report(True, "ok", "templating: $job = %s offers %r" % (query, self.job))

    def retry(self, fetch):
        """fetch() until it returns something non-empty or --wait passes."""
        deadline = time.time() + self.wait
        while True:
            try:
                result = fetch()
            except ValueError as e:
                return e
            if result or time.time() >= deadline:
                return result
            time.sleep(1)

    def check_targets(self, targets):
        """Queries every (panel, target) until each has data or --wait has
        passed, then reports them in dashboard order."""
        # None: not asked yet; []: no data yet; ValueError: refused.
        results = {}
        for i, (_, target) in enumerate(targets):
            templated = re.search(r"\$(\{job\}|job\b)", target.get("expr", ""))
            results[i] = None if templated else ValueError("not filtered by $job")
        deadline = time.time() + self.wait
        while True:
            for i in [i for i, r in results.items() if r in (None, [])]:
                query = substitute(targets[i][1]["expr"], self.job, self.rate_interval)
                try:
                    results[i] = api_get(self.api, "query", {"query": query})["result"]
                except ValueError as e:
                    results[i] = e
            # Only series that must come are waited for; ALLOWED_ABSENT ones
            # are asked again while the others are.
            waiting = [i for i, r in results.items()
                       if r == [] and not allowed_absent(targets[i][1]["expr"])]
            if not waiting or time.time() >= deadline:
                break
            time.sleep(1)
        for i, (panel, target) in enumerate(targets):
            self.report_target(panel, target, results[i])

    def report_target(self, panel, target, result):
        expr = target.get("expr", "")
        what = "%s / %s: %s" % (panel.get("title"), target.get("refId"), expr)
        if isinstance(result, ValueError):
            self.report(False, "ERROR", what, str(result))
            return
        if result:
            self.report(True, "ok", what, "%d series" % len(result))
            if allowed_absent(expr):
                print("          note: has data now; remove %s from ALLOWED_ABSENT in %s"
                      % (", ".join(sorted(series_read(expr))), __file__))
        elif allowed_absent(expr):
            self.report(True, "absent", what,
                        "no data: allowed until issue 12 (ALLOWED_ABSENT)")
        else:
            self.report(False, "NO DATA", what, "evaluated as: " +
                        substitute(expr, self.job, self.rate_interval))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dashboard")
    parser.add_argument("--api", required=True, help="http://HOST:PORT/api/v1")
    parser.add_argument("--job", required=True, help="the backfill job to show")
    parser.add_argument("--wait", type=float, default=15,
                        help="seconds to keep retrying the queries with no data")
    parser.add_argument("--rate-interval", default="10s",
                        help="what $__rate_interval stands for (>= 4 scrape intervals)")
    args = parser.parse_args()
    with open(args.dashboard) as f:
        dashboard = json.load(f)

    checker = Checker(args.api, args.job, args.wait, args.rate_interval)
    checker.check_template(dashboard)
    targets = [(panel, target) for panel in panels_of(dashboard)
               for target in panel.get("targets", [])]
    if not targets:
        checker.report(False, "ERROR", "the dashboard has no queries")
    checker.check_targets(targets)
    print("dashboard: %d passed, %d failed" % (checker.passed, checker.failed))
    return 1 if checker.failed else 0


if __name__ == "__main__":
    sys.exit(main())
