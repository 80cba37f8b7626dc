#!/usr/bin/env python3
"""`make capacity`: the scaled wind tunnel, default and tuned settings side by side.

Runs `capacity` (bench/src/bin/capacity.rs) four times, each with its own fake-aws, ingress fleet
and sweeper: the burst with the default settings and the burst with the tuned ones (at once), the
drain of the backlog a one-hour SQS outage at 100 webhooks a second leaves (360,000 rows) by the
deployed sweeper (beside them), and, once those bursts end, a shorter burst from a provider that
never retries (GitHub) with the tuned settings, where the reconciler brings back every delivery
answered 429 or 5xx. Then prints the tables in real-world terms (every rate and count multiplied by
the scale), writes them to docs/capacity-results.md and draws docs/capacity.png. Exits 1 when a run
lost a webhook (a 2xx never queued; for GitHub, an event emitted and never queued) or failed.

    scripts/capacity.py [--scale 100] [--peak 10000] [--hold-secs 300] [--github-hold-secs 120]
                        [--out DIR] [--bin-dir DIR]
"""
import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ("default", "tuned")
BURSTS = SETTINGS + ("github",)
TITLES = {"default": "default", "tuned": "tuned", "github": "GitHub: never retries, tuned"}


def run_both(args, out):
    command = [str(Path(args.bin_dir) / "capacity"), "--out", str(out), "--scale", str(args.scale),
               "--peak", str(args.peak), "--ramp-secs", str(args.ramp_secs),
               "--hold-secs", str(args.hold_secs), "--drain-limit-secs", str(args.drain_limit_secs),
               "--bin-dir", args.bin_dir]
    started = time.monotonic()
    runs = {name: subprocess.Popen(command + ["--settings", name], stdout=subprocess.DEVNULL)
            for name in SETTINGS}
    backlog = round(args.outage_rows / args.scale)
    # The drain has no burst before it: it may take the burst runs' whole time.
    drain_limit = args.ramp_secs + args.hold_secs + args.drain_limit_secs - 60
    runs["drain"] = subprocess.Popen(command + ["--settings", "default", "--backlog", str(backlog),
                                                "--drain-limit-secs", str(drain_limit)],
                                     stdout=subprocess.DEVNULL)
    # The provider that never retries, once the two bursts are over (their drains are light):
    # a machine running three bursts at once would answer more 429s for want of CPU.
    time.sleep(max(0.0, started + args.ramp_secs + args.hold_secs - time.monotonic()))
    # Its drain may wait for a redelivery refused at the very end (the reconciler's settle delay
    # and period) before the sweeper's grace and its next sweep: a minute more than the others.
    runs["github"] = subprocess.Popen(
        command + ["--settings", "github", "--hold-secs", str(args.github_hold_secs),
                   "--drain-limit-secs", str(args.drain_limit_secs + 60),
                   "--reconcile-every", str(args.reconcile_every)],
        stdout=subprocess.DEVNULL)
    failed = [name for name, process in runs.items() if process.wait() != 0]
    return failed, time.monotonic() - started


def load(out, name):
    summary = json.loads((out / f"{name}.json").read_text())
    with open(out / f"{name}.csv", newline="") as f:
        seconds = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return summary, seconds


def sustained(seconds, field, start, end):
    """The mean per second of `field` over the seconds [start, end)."""
    window = [row[field] for row in seconds if start <= row["second"] < end]
    return sum(window) / len(window) if window else 0.0


def minutes(secs):
    return "not drained" if secs is None else f"{secs / 60:.1f} min"


def walls(s, scale):
    final = s["final"]
    return (f"{final.get('throttled_by_table', 0) * scale:,.0f} / {final.get('throttled_by_index', 0) * scale:,.0f}"
            f" / {final.get('throttled_by_partition', 0) * scale:,.0f}"
            f" ({final.get('throttled_by_partition_only', 0) * scale:,.0f})")


def by_operation(s, scale):
    operations = s["final"].get("throttles_by_operation", {})
    return f"{operations.get('put', 0) * scale:,.0f} / {operations.get('update', 0) * scale:,.0f}"


def recovered(s, scale):
    github = s.get("github")
    if not github:
        return "- (the provider retries)"
    return (f"{github['recovered'] * scale:,.0f} ({github['redeliveries'] * scale:,.0f} redeliveries,"
            f" {github['redeliveries_accepted'] * scale:,.0f} answered 2xx)")


def reconciler_runs(s, scale):
    figures = s.get("reconciler") or {}
    if not s.get("github"):
        return "-"
    return (f"{figures.get('runs', 0)} runs, missing {figures.get('missing', 0) * scale:,.0f},"
            f" asked {figures.get('recovered', 0) * scale:,.0f}, failed {figures.get('failed', 0):,.0f},"
            f" errors {figures.get('errors', 0):,.0f}")


def table(results, scale):
    rows = [
        ("PENDING_SHARDS", lambda s, _: f"{s['settings']['pending_shards']}"),
        ("table / index warm write units a second",
         lambda s, _: f"{s['settings']['table_write_units']:,.0f} / {s['settings']['index_write_units']:,.0f}"),
        ("SSM GetParameter a second", lambda s, _: f"{s['settings']['get_parameter_per_second']:,.0f}"),
        ("Lambda concurrency", lambda s, _: f"{s['settings']['lambda_concurrency']:,.0f}"),
        ("burst held", lambda s, _: f"{s['settings']['hold_secs'] / 60:g} min"),
        ("emitted (offered)", lambda s, _: f"{s['offered'] * scale:,.0f}"),
        ("accepted (2xx) at first delivery, held rate",
         lambda s, sec: f"{s['accepted'] * scale:,.0f} ({hold_rate(s, sec, 'accepted') * scale:,.0f}/s)"),
        ("5xx: init failed", lambda s, _: f"{s['init_failed'] * scale:,.0f}"),
        ("429: Lambda throttled", lambda s, _: f"{s['throttled_429'] * scale:,.0f}"),
        ("recovered by the reconciler", lambda s, _: recovered(s, scale)),
        ("reconciler (`--every` beside the burst)", lambda s, _: reconciler_runs(s, scale)),
        ("on the queue (distinct events)", lambda s, _: f"{s.get('on_queue', 0) * scale:,.0f}"),
        ("cold starts / secret-read retries",
         lambda s, _: f"{s['cold_starts'] * scale:,.0f} / {s['cold_start_secret_retries'] * scale:,.0f}"),
        ("DynamoDB writes throttled", lambda s, _: f"{s['final']['write_throttles'] * scale:,.0f}"),
        ("throttled PutItem / UpdateItem", lambda s, _: by_operation(s, scale)),
        ("refused by the table / index / a partition (partition alone)", lambda s, _: walls(s, scale)),
        ("sent without a row (PutItem throttled)", lambda s, _: f"{s['final']['sent_without_row'] * scale:,.0f}"),
        ("pending when the burst ended", lambda s, _: f"{(s['pending_at_burst_end'] or 0) * scale:,.0f}"),
        ("all on the queue, after the burst, in", lambda s, _: minutes(s["drained_secs_after_burst"])),
        ("warm request p50 / p99 (tunnel)",
         lambda s, _: f"{fmt_ms(s['warm_duration_ms']['p50'])} / {fmt_ms(s['warm_duration_ms']['p99'])}"),
        ("lost: 2xx never queued; GitHub: emitted, never queued", lambda s, _: f"**{s['lost']}**"),
    ]
    lines = ["| real-world terms | " + " | ".join(TITLES[name] for name in BURSTS) + " |",
             "|---|" + "---:|" * len(BURSTS)]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(*results[name]) for name in BURSTS) + " |")
    return "\n".join(lines)


def drain_table(summary, scale):
    final = summary["final"]
    duplicates = final["messages"] - final["distinct_event_ids"]
    drained = summary["drained_secs_after_burst"]
    rate = "-" if not drained else f"{summary['settings']['backlog'] * scale / drained:,.0f} rows/s"
    rows = [
        ("pending rows at the start", f"{summary['settings']['backlog'] * scale:,.0f}"),
        ("all sent, and on the queue, after", minutes(drained)),
        ("mean drain rate (quota-bound: the tunnel adds no AWS latency)", rate),
        ("sweeper re-sends (duplicates the workers drop)",
         f"{summary['sweeper_resent'] * scale:,.0f} ({duplicates * scale:,.0f})"),
        ("duplicates, share of the messages",
         f"{100 * duplicates / final['messages']:.1f} %" if final["messages"] else "-"),
        ("DynamoDB writes throttled", f"{final['write_throttles'] * scale:,.0f}"),
        ("parked", f"{summary['sweeper_parked'] * scale:,.0f}"),
        ("lost", f"**{summary['lost']}**"),
    ]
    return "\n".join(["| one-hour SQS outage at 100/s, default settings | |", "|---|---:|"]
                     + [f"| {label} | {value} |" for label, value in rows])


def fmt_ms(value):
    return "-" if value is None else f"{value:.0f} ms"


def hold_rate(summary, seconds, field):
    settings = summary["settings"]
    start = settings["ramp_secs"]
    return sustained(seconds, field, start, start + settings["hold_secs"])


def draw(results, scale, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, len(BURSTS), figsize=(6.5 * len(BURSTS), 7.5))
    for column, name in enumerate(BURSTS):
        summary, seconds = results[name]
        t = [row["second"] / 60 for row in seconds]
        rates = axes[0][column]
        for field, label, colour in (("offered", "offered", "#999999"),
                                     ("accepted", "accepted (2xx)", "#2a7ab9"),
                                     ("throttled_429", "429 (Lambda throttled)", "#e08a1e"),
                                     ("failed_5xx", "5xx (init failed)", "#c0392b")):
            rates.plot(t, [row[field] * scale for row in seconds], label=label, color=colour, linewidth=1)
        without_row = [row["sent_without_row"] for row in seconds]
        per_second = [0] + [max(b - a, 0) for a, b in zip(without_row, without_row[1:])]
        rates.plot(t, [v * scale for v in per_second], label="sent without a row", color="#8e44ad", linewidth=1)
        if name == "github":
            rates.plot(t, [row["redelivered_accepted"] * scale for row in seconds],
                       label="redelivered, 2xx (reconciler)", color="#27ae60", linewidth=1)
        rates.set_title(f"{TITLES[name]}: webhooks a second (real-world terms)", fontsize=10)
        rates.legend(fontsize=8, loc="upper right")
        rates.grid(alpha=0.3)
        backlog = axes[1][column]
        backlog.plot(t, [row["pending"] * scale for row in seconds], label="pending rows", color="#16a085")
        resent = [row["resent_by_sweeper"] * scale for row in seconds]
        backlog.plot(t, resent, label="re-sent by the sweeper (total)", color="#2c3e50", linestyle="--")
        backlog.axvline((summary["burst_end_secs"]) / 60, color="#999999", linewidth=0.8, linestyle=":")
        drained = summary["drained_secs_after_burst"]
        title = "rows pending and the sweeper's drain"
        if drained is not None:
            title += f" (drained {drained / 60:.1f} min after the burst)"
        backlog.set_title(title, fontsize=10)
        backlog.set_xlabel("minutes")
        backlog.legend(fontsize=8, loc="upper left")
        backlog.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(png, dpi=90)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=100)
    parser.add_argument("--peak", type=float, default=10_000, help="real-world webhooks a second")
    parser.add_argument("--ramp-secs", type=float, default=10)
    parser.add_argument("--hold-secs", type=float, default=300)
    parser.add_argument("--drain-limit-secs", type=float, default=240)
    parser.add_argument("--github-hold-secs", type=float, default=120,
                        help="the never-retrying provider's burst is held this long")
    parser.add_argument("--reconcile-every", type=float, default=20,
                        help="the reconciler's period in the GitHub run (reconciler --every)")
    parser.add_argument("--outage-rows", type=float, default=360_000,
                        help="real-world rows pending after the outage (one hour at 100/s)")
    parser.add_argument("--out", default=str(ROOT / "target" / "capacity"))
    parser.add_argument("--bin-dir", default=str(ROOT / "target" / "debug"))
    parser.add_argument("--png", default=str(ROOT / "docs" / "capacity.png"))
    parser.add_argument("--table", default=str(ROOT / "docs" / "capacity-results.md"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed, wall = run_both(args, out)
    names = BURSTS + ("drain",)
    results = {name: load(out, name) for name in names if (out / f"{name}.json").exists()}
    if set(results) != set(names):
        sys.exit(f"capacity.py: the {', '.join(sorted(set(names) - set(results)))} run wrote no result")
    defaults = (args.scale, args.peak, args.hold_secs, args.github_hold_secs) == (100, 10_000, 300, 120)
    command = "make capacity" + ("" if defaults else
                                 f" CAPACITY_ARGS='--scale {args.scale:g} --peak {args.peak:g} --hold-secs {args.hold_secs:g}"
                                 f" --github-hold-secs {args.github_hold_secs:g}'")
    text = (table(results, args.scale) + "\n\n" + drain_table(results["drain"][0], args.scale)
            + f"\n\nMeasured by `{command}`.")
    print(text)
    print(f"\nwall time {wall / 60:.1f} min; per-second data in {out}")
    Path(args.table).write_text(
        "<!-- Written by `make capacity` (scripts/capacity.py); docs/CAPACITY.md explains it. -->\n"
        f"A burst of 0 to {args.peak:,.0f} webhooks a second in {args.ramp_secs:g} s, held "
        f"{args.hold_secs / 60:g} min (the GitHub run {args.github_hold_secs / 60:g} min), scale 1/{args.scale:g};"
        " debug binaries on this machine.\n\n"
        + text + "\n")
    draw(results, args.scale, args.png)
    lost = sum(summary["lost"] for summary, _ in results.values())
    if failed or lost:
        sys.exit(f"capacity.py: lost {lost}; failed runs: {failed}")


if __name__ == "__main__":
    main()
