#!/usr/bin/env python3
"""Benchmarks of a release `nimbus` on this machine: requests/s, latency and memory.

Starts the server on a free loopback port with a throwaway data dir, loads each endpoint with wrk
(64 connections), and prints a table; the figures also go to bench/results/<time>.json.
The identity suite signs in (bench/login.lua), rotates refresh tokens (bench/refresh.lua) and reads
GET /api/v1/me with a Bearer token, and compares sign-ins/s with the bare Argon2id hash rate that
nimbus_micro_bench (BM_Argon2idHash, 2 threads) measures at the same parameters right before and right
after the sign-ins (their mean; the machine's hash rate drifts from minute to minute).
These measure the core server: the firewall and the rate limiter are switched off (a single load
generator would be limited after its first thousand requests); their cost is measured apart.
Figures are reported, never asserted.
Usage: bench/run.py [--duration SECONDS] [--binary PATH] [--suite all|core|identity]
"""
import argparse
import datetime
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONNECTIONS = 64
WRK_THREADS = 2
STARTUP_RUNS = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid, field):
    """VmRSS (now) or VmHWM (peak) of a process, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def wait_ready(url, deadline_s=20.0):
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.001)
    raise RuntimeError("nimbus did not become ready")


class Server:
    def __init__(self, binary, data_dir, console_dir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(pathlib.Path(data_dir).parent / "nimbus.log", "ab")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", data_dir,
             "--console-dir", console_dir, "--set", "firewall.enabled=false",
             "--set", "rate_limit.enabled=false",
             # the identity suite reads its verification link from the dev mailbox
             "--set", "mail.dev_mailbox=true"],
            stdout=self.log, stderr=self.log)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def run_wrk(url, duration, script="report.lua", script_args=(), headers=()):
    command = ["wrk", "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{duration}s",
               "--latency", "-s", str(ROOT / "bench" / script)]
    for header in headers:
        command += ["-H", header]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    seconds = figures["duration_us"] / 1e6
    figures["requests_per_s"] = figures["requests"] / seconds
    return figures


def call(url, method, path, body=None, token=None):
    """One JSON request; returns (status, parsed body or {})."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as error:
        return error.code, {}


def mailed_token(url, email):
    """The token of the newest mail to `email` in the dev mailbox. Mail is queued with the request
    and sent a moment after the answer, so this waits for it."""
    query = urllib.parse.urlencode({"to": email, "limit": 1})
    deadline = time.monotonic() + 20
    while True:
        _, mailbox = call(url, "GET", "/api/v1/dev/mailbox?" + query)
        found = mailbox.get("data") and re.search(r"token=([A-Za-z0-9_-]+)",
                                                  mailbox["data"][0]["text"])
        if found:
            return found.group(1)
        if time.monotonic() > deadline:
            raise RuntimeError(f"no mail with a link reached {email}")
        time.sleep(0.05)


def create_account(url, email, password):
    """Signs up and verifies through the dev mailbox (no SMTP is configured in the bench)."""
    status, _ = call(url, "POST", "/api/v1/auth/signup", {"email": email, "password": password})
    if status != 202:
        raise RuntimeError(f"sign-up answered {status}")
    status, _ = call(url, "POST", "/api/v1/auth/verify-email", {"token": mailed_token(url, email)})
    if status != 204:
        raise RuntimeError(f"verify-email answered {status}")


def login(url, email, password):
    status, tokens = call(url, "POST", "/api/v1/auth/login", {"email": email, "password": password})
    if status != 200:
        raise RuntimeError(f"login answered {status}")
    return tokens


def bare_argon2id(binary):
    """Argon2id hashes/s on 2 threads at the sign-in parameters, from nimbus_micro_bench."""
    micro = pathlib.Path(binary).resolve().parents[2] / "bench" / "nimbus_micro_bench"
    if not micro.exists():
        return None
    out = subprocess.run(
        [str(micro), "--benchmark_filter=BM_Argon2idHash", "--benchmark_format=json",
         "--benchmark_min_time=3"], check=True, capture_output=True, text=True).stdout
    rates = {b["threads"]: b["items_per_second"] for b in json.loads(out)["benchmarks"]}
    return {"threads_1": rates.get(1), "threads_2": rates.get(2)}


def identity_suite(url, duration, work, bare=None):
    """Sign-in, refresh and authenticated GET figures; returns the endpoints' figures and the
    bare Argon2id rate from `bare()` (None without it)."""
    email, password = "bench@example.com", "correct-Horse-battery-9"
    create_account(url, email, password)
    figures = {}
    # The hash rate of this machine drifts by several percent from one minute to the next: the
    # bare rate is taken right before and right after the sign-ins, and the two averaged.
    before = bare() if bare else None
    signin = run_wrk(url, duration, "login.lua", [email, password])
    after = bare() if bare else None
    figures["POST /api/v1/auth/login (Argon2id, OWASP parameters)"] = signin
    rates = None
    if before and after:
        rates = {key: (before[key] + after[key]) / 2 for key in ("threads_1", "threads_2")}
        rates["threads_2_before"] = before["threads_2"]
        rates["threads_2_after"] = after["threads_2"]

    # Each refresh token works once: seed twice as many sessions as connections.
    tokens_file = pathlib.Path(work) / "refresh-tokens.txt"
    tokens = [login(url, email, password) for _ in range(2 * CONNECTIONS)]
    tokens_file.write_text("".join(t["refresh_token"] + "\n" for t in tokens))
    figures["POST /api/v1/auth/refresh (rotation)"] = run_wrk(
        url, duration, "refresh.lua", [str(tokens_file), str(WRK_THREADS)])

    access = tokens[0]["access_token"]
    figures["GET /api/v1/me (Bearer ES256 JWT)"] = run_wrk(
        url + "/api/v1/me", duration, headers=["Authorization: Bearer " + access])
    return figures, rates


def first_asset(console_dir):
    assets = sorted(pathlib.Path(console_dir, "assets").glob("*.js"))
    return "/assets/" + assets[0].name if assets else "/"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=int(os.environ.get("NIMBUS_BENCH_SECONDS", "10")))
    parser.add_argument("--binary", default=str(ROOT / "build" / "release" / "src" / "app" / "nimbus"))
    parser.add_argument("--suite", choices=["all", "core", "identity"], default="all")
    args = parser.parse_args()
    console_dir = str(ROOT / "web" / "dist")
    work = pathlib.Path(tempfile.mkdtemp(prefix="nimbus-bench-"))
    data_dir = str(work / "data")
    results = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": {"cores": os.cpu_count()}, "connections": CONNECTIONS,
               "duration_s": args.duration, "endpoints": {}}
    try:
        # First start creates the data dir, database and master key.
        server = Server(args.binary, data_dir, console_dir)
        wait_ready(server.url)
        server.stop()

        # Start to ready with an existing data dir: exec until /readyz answers 200.
        startup_ms = []
        for _ in range(STARTUP_RUNS):
            server = Server(args.binary, data_dir, console_dir)
            startup_ms.append(wait_ready(server.url) * 1000)
            server.stop()
        startup_ms.sort()
        results["startup_to_ready_ms"] = {"median": startup_ms[len(startup_ms) // 2], "max": startup_ms[-1]}

        server = Server(args.binary, data_dir, console_dir)
        wait_ready(server.url)
        time.sleep(0.5)
        results["idle_rss_mib"] = rss_kib(server.process.pid, "VmRSS") / 1024
        endpoints = {
            "GET /healthz": "/healthz",
            "GET /api/v1/system/info (database read)": "/api/v1/system/info",
            f"GET static asset": first_asset(console_dir),
        }
        if args.suite in ("all", "core"):
            for name, path in endpoints.items():
                figures = run_wrk(server.url + path, args.duration)
                figures["path"] = path
                results["endpoints"][name] = figures
        if args.suite in ("all", "identity"):
            figures, rates = identity_suite(server.url, args.duration, work,
                                            lambda: bare_argon2id(args.binary))
            results["endpoints"].update(figures)
            results["argon2id_hashes_per_s"] = rates
        results["peak_rss_mib"] = rss_kib(server.process.pid, "VmHWM") / 1024
        server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = re.sub(r"[^0-9T]", "", results["time"])[:15]
    (out_dir / f"{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")

    print(f"\nNimbus benchmarks ({args.duration} s per endpoint, {CONNECTIONS} connections, "
          f"wrk on the same {os.cpu_count()}-core machine)\n")
    print(f"{'endpoint':<42} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, f in results["endpoints"].items():
        print(f"{name:<42} {f['requests_per_s']:>10.0f} {f['p50_us'] / 1000:>8.2f} "
              f"{f['p99_us'] / 1000:>8.2f} {f['errors']:>7}")
    argon2 = results.get("argon2id_hashes_per_s")
    signin = results["endpoints"].get("POST /api/v1/auth/login (Argon2id, OWASP parameters)")
    if argon2 and signin:
        print(f"\nbare Argon2id: {argon2['threads_2']:.1f} hashes/s on 2 threads "
              f"({argon2['threads_2_before']:.1f} just before the sign-ins, "
              f"{argon2['threads_2_after']:.1f} just after; {argon2['threads_1']:.1f} on 1); "
              f"sign-in reaches "
              f"{100 * signin['requests_per_s'] / argon2['threads_2']:.0f}% of it")
    print(f"\nidle RSS {results['idle_rss_mib']:.1f} MiB, peak RSS {results['peak_rss_mib']:.1f} MiB, "
          f"start to ready {results['startup_to_ready_ms']['median']:.1f} ms (median of {STARTUP_RUNS})")
    print(f"results: bench/results/{stamp}.json")

    # The cost of each gateway layer, and the firewall next to nginx + ModSecurity + CRS
    # (bench/gateway.py; about two minutes). NIMBUS_BENCH_GATEWAY=0 skips it.
    if os.environ.get("NIMBUS_BENCH_GATEWAY", "1") != "0":
        subprocess.run([sys.executable, str(ROOT / "bench" / "gateway.py"), "--binary",
                        args.binary], check=True)


if __name__ == "__main__":
    sys.exit(main())
