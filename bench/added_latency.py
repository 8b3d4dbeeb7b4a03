"""What a proxied miss adds to the upstream's own latency at a low rate, over many rounds.

``python -m bench.added_latency [--rounds 10] [--seconds 5] [--rate 100]``

The hot-path benchmark measures this once per round, right after a wrk run of the same target
(a warm process). At 100 req/s a request mostly finds an idle process, so the figure varies from
run to run; this repeats only that measurement, interleaved (upstream, miss; then miss, upstream),
with no wrk in between, and prints each round's added p50 and the median. Same services as
``bench.hotpath`` (nginx upstream, the service with the cache off and the budget raised).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Sequence

import uvloop

from bench import hotpath
from bench.load import open_loop
from bench.processes import REPO_ROOT


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.added_latency", description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args(argv)
    hotpath.ensure_tools("nginx", "wrk")
    lifetime = args.rounds * args.seconds * 2 + 120
    with hotpath.running_services({}, lifetime, with_naive=False) as services:
        found = {t.name: t for t in hotpath.targets(services) if t.name in ("upstream", "miss")}
        found["miss"].headers = hotpath._service_headers(services.miss, services.ticket_secret)
        added: list[float] = []
        for index in range(args.rounds):
            order = ("upstream", "miss") if index % 2 == 0 else ("miss", "upstream")
            p50: dict[str, float] = {}
            for name in order:
                target = found[name]
                result = uvloop.run(
                    open_loop(target.url, target.headers, rate=args.rate, seconds=args.seconds)
                )
                p50[name] = result.percentile_ms(0.5) or float("nan")
            added.append(p50["miss"] - p50["upstream"])
            print(
                f"round {index + 1}: upstream {p50['upstream']:.2f} ms, miss {p50['miss']:.2f} ms,"
                f" added {added[-1]:.2f} ms",
                flush=True,
            )
    summary = {
        "rate": args.rate,
        "added_p50_ms_rounds": [round(value, 3) for value in added],
        "added_p50_ms_median": round(statistics.median(added), 3),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    sys.exit(main())
