#!/usr/bin/env python3
"""The cost of each gateway layer, and Nimbus's firewall next to nginx + ModSecurity + CRS.

1. Layers, at 64 connections, for an authenticated JSON GET (GET /api/v1/me, Bearer token) and
   an authenticated JSON POST with a body schema (POST /api/v1/oauth2/requests/{id}/decision,
   {"approve": false}; it answers 404 after the whole pipeline, as no such request exists, so no
   database write is timed): baseline (firewall and rate limits off), + rate limit, + firewall
   (paranoia 1, blocking, prefilter on), + all. Schema validation cannot be switched off; its
   share, like every step's, is read from nimbus_http_step_duration_seconds after each run.
2. The benign corpus (tests/integration/gateway/corpus/benign.jsonl, cycled by bench/corpus.lua)
   against Nimbus with its firewall (prefilter on, then off) and against Debian's nginx with
   libnginx-mod-http-modsecurity and the same CRS 3.3.4 at paranoia 1 proxying to a Nimbus
   with its firewall off; nginx without ModSecurity for reference. The same GET and POST go
   through both nginx setups too. nginx runs from a temp prefix on 127.0.0.1 (as nobody when
   started by root).

Usage: bench/gateway.py [--duration SECONDS] [--binary PATH]; bench/run.py runs it last
(NIMBUS_BENCH_GATEWAY=0 skips it).
"""
import argparse
import http.client
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run as base  # noqa: E402  (the shared server, wrk and port helpers)

ROOT = base.ROOT
CORPUS = ROOT / "tests" / "integration" / "gateway" / "corpus" / "benign.jsonl"
ATTACKS = ROOT / "tests" / "integration" / "gateway" / "corpus" / "attacks.jsonl"
CRS_DIR = pathlib.Path("/usr/share/modsecurity-crs")
CRS_SETUP = pathlib.Path("/etc/modsecurity/crs/crs-setup.conf")
MODSECURITY_MODULE = pathlib.Path("/usr/lib/nginx/modules/ngx_http_modsecurity_module.so")
HOST = "api.example.com"  # a name, as real clients send (CRS scores a numeric Host)
EMAIL, PASSWORD = "gateway-bench@example.com", "correct-Horse-battery-9"
DECISION_PATH = "/api/v1/oauth2/requests/oar_01JBENCH0000000000000000000/decision"
DECISION_BODY = '{"approve":false}'
UNLIMITED = "1000000000"  # a budget no run reaches, so the limiter is timed but never refuses

LAYERS = {
    "baseline": {"firewall.enabled": "false", "rate_limit.enabled": "false"},
    "+ rate limit": {"firewall.enabled": "false", "rate_limit.enabled": "true"},
    "+ firewall (PL1)": {"firewall.enabled": "true", "rate_limit.enabled": "false"},
    "+ all": {"firewall.enabled": "true", "rate_limit.enabled": "true"},
}
STEPS = ("firewall", "authenticate", "rate_limit", "validate")


class Nimbus:
    """A release nimbus on a free port with the given settings."""

    def __init__(self, binary, data_dir, settings):
        self.port = base.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", data_dir,
                "--console-dir", "/nonexistent", "--set", "http.access_log=false",
                "--set", "mail.dev_mailbox=true",
                "--set", f"rate_limit.requests_per_minute={UNLIMITED}",
                "--set", f"rate_limit.anonymous_requests_per_minute={UNLIMITED}",
                "--set", f"rate_limit.org_requests_per_minute={UNLIMITED}"]
        for key, value in settings.items():
            args += ["--set", f"{key}={value}"]
        self.log = open(pathlib.Path(data_dir).parent / "nimbus-gateway.log", "ab")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        base.wait_ready(self.url)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def access_token(url):
    """Signs up, verifies through the dev mailbox and signs in; returns an access token."""
    status, _ = base.call(url, "POST", "/api/v1/auth/signup",
                          {"email": EMAIL, "password": PASSWORD})
    if status not in (201, 202, 409):
        raise RuntimeError(f"sign-up answered {status}")
    base.call(url, "POST", "/api/v1/auth/verify-email",
              {"token": base.mailed_token(url, EMAIL)})
    status, tokens = base.call(url, "POST", "/api/v1/auth/login",
                               {"email": EMAIL, "password": PASSWORD})
    if status != 200:
        raise RuntimeError(f"login answered {status}")
    return tokens["access_token"]


def metric(url, name):
    """The value of an unlabelled Prometheus counter, 0 when absent."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def wait_prefilter(url):
    """The prefilter is built after the start: send a plain request until one is cleared, so
    the measurement sees the steady state (a firewall with its prefilter off never is)."""
    port = int(url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/v1/me", headers={
            "Host": HOST, "Accept": "application/json", "User-Agent": "nimbus-bench/1.0"})
        connection.getresponse().read()
        connection.close()
        if metric(url, "nimbus_firewall_prefilter_cleared_total") > 0:
            return
        time.sleep(0.05)
    raise RuntimeError("the firewall prefilter did not clear a plain request within 20 s")


def verdicts(url, corpus, ours):
    """Which requests of a corpus file the firewall in front of `url` refused: Nimbus answers
    them as problem+json (firewall-blocked, or unparseable-body for a body its parser rejects),
    nginx with its own HTML page; answers of the Nimbus behind nginx are not refusals."""
    port = int(url.rsplit(":", 1)[1])
    refused = []
    for line in pathlib.Path(corpus).read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        headers = dict(entry["headers"])
        headers["Host"] = HOST
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = entry["body"].encode() if entry["body"] else None
        connection.request(entry["method"], entry["target"], body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        connection.close()
        if ours:
            by_firewall = ("/problems/firewall-blocked" in text or
                           "/problems/unparseable-body" in text)
        else:
            by_firewall = (response.status in (400, 403) and
                           "text/html" in (response.getheader("Content-Type") or ""))
        if by_firewall:
            refused.append(entry["name"])
    return refused


def step_means_us(url):
    """Mean time per request of each gateway step, from the Prometheus histograms."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    sums, counts = {}, {}
    for line in text.splitlines():
        if not line.startswith("nimbus_http_step_duration_seconds_"):
            continue
        name, value = line.rsplit(" ", 1)
        for step in STEPS:
            if f'step="{step}"' in name:
                if name.startswith("nimbus_http_step_duration_seconds_sum"):
                    sums[step] = float(value)
                elif name.startswith("nimbus_http_step_duration_seconds_count"):
                    counts[step] = float(value)
    return {step: round(sums[step] / counts[step] * 1e6, 1)
            for step in STEPS if counts.get(step)}


def wrk(url, duration, script="report.lua", args=(), headers=()):
    command = ["wrk", "-t", str(base.WRK_THREADS), "-c", str(base.CONNECTIONS), "-d",
               f"{duration}s", "--latency", "-s", str(ROOT / "bench" / script)]
    for header in headers:
        command += ["-H", header]
    command.append(url)
    if args:
        command += ["--", *args]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    figures["requests_per_s"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def load(url, duration, token, kind):
    headers = [f"Host: {HOST}", "Accept: application/json", "Authorization: Bearer " + token]
    if kind == "GET":
        return wrk(url + "/api/v1/me", duration, headers=headers)
    return wrk(url + DECISION_PATH, duration, "post.lua", [DECISION_BODY], headers)


def corpus_script(work):
    """The benign corpus as a Lua table bench/corpus.lua cycles through (Host set to a name)."""
    def lua(text):
        # Every byte of the UTF-8 text that is not plainly safe as a decimal escape (\ddd).
        return '"' + "".join(chr(b) if b < 128 and (chr(b).isalnum() or chr(b) in " -_./:,;=@()") else
                             f"\\{b:03d}" for b in text.encode()) + '"'
    lines = ["return {"]
    for line in CORPUS.read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        headers = dict(entry["headers"])
        headers["Host"] = HOST
        fields = ", ".join(f"[{lua(k)}] = {lua(v)}" for k, v in headers.items())
        lines.append(f"  {{method = {lua(entry['method'])}, path = {lua(entry['target'])}, "
                     f"headers = {{{fields}}}, body = {lua(entry['body'])}}},")
    lines.append("}")
    path = pathlib.Path(work) / "benign-corpus.lua"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


NGINX_CONF = """
{load_module}
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream nimbus {{ server 127.0.0.1:{upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        {modsecurity}
        location / {{
            proxy_pass http://nimbus;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
}}
"""

# The same settings Nimbus generates (src/gateway/firewall.cpp): engine on, request bodies with
# JSON parsed into ARGS, no response bodies, then Debian's crs-setup.conf (paranoia 1) and every
# CRS rules file with plain Include lines (libmodsecurity v3 rejects owasp-crs.load's
# IncludeOptional).
MODSECURITY_CONF = """
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 1048576
SecRequestBodyNoFilesLimit 1048576
SecRequestBodyLimitAction ProcessPartial
SecResponseBodyAccess Off
SecAuditEngine Off
SecPcreMatchLimit 100000
SecPcreMatchLimitRecursion 100000
SecRule REQUEST_HEADERS:Content-Type "@rx ^application/(?:[a-z0-9.+-]+\\+)?json" \
    "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,t:none,log,deny,status:400"
Include {setup}
SecAction "id:900200,phase:1,nolog,pass,t:none,setvar:'tx.allowed_methods=GET HEAD POST PUT PATCH DELETE OPTIONS'"
{includes}
"""


class Nginx:
    def __init__(self, work, upstream_port, modsecurity):
        self.prefix = pathlib.Path(work) / ("nginx-modsecurity" if modsecurity else "nginx")
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.port = base.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        module = ""
        directives = ""
        if modsecurity:
            module = f"load_module {MODSECURITY_MODULE};"
            rules = sorted(CRS_DIR.glob("rules/*.conf"))
            (self.prefix / "modsecurity.conf").write_text(MODSECURITY_CONF.format(
                setup=CRS_SETUP, includes="\n".join(f"Include {r}" for r in rules)))
            directives = (f"modsecurity on; modsecurity_rules_file "
                          f"{self.prefix / 'modsecurity.conf'};")
        (self.prefix / "nginx.conf").write_text(NGINX_CONF.format(
            load_module=module, prefix=self.prefix, upstream=upstream_port, port=self.port,
            modsecurity=directives))
        command = ["nginx", "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"),
                   "-g", "daemon off;"]
        if os.geteuid() == 0:
            # Not as root: nobody owns the prefix and runs the master too.
            shutil.chown(self.prefix, "nobody", "nogroup")
            for path in self.prefix.iterdir():
                shutil.chown(path, "nobody", "nogroup")
            command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + command
        self.log = open(self.prefix / "stderr.log", "ab")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("nginx did not start: " + (self.prefix / "stderr.log").read_text()
                           + (self.prefix / "error.log").read_text()
                           if (self.prefix / "error.log").exists() else "")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def row(figures, steps=None):
    out = {k: figures[k] for k in ("requests_per_s", "p50_us", "p99_us", "errors", "non_2xx")}
    if steps is not None:
        out["step_us"] = steps
    return out


def gateway_suite(binary, duration, work, corpus_only=False):
    results = {"layers": {}, "corpus": {}, "nginx": {}, "detection": {}}
    data_dir = str(pathlib.Path(work) / "gateway-data")
    setup = Nimbus(binary, data_dir, LAYERS["baseline"])
    try:
        token = access_token(setup.url)
        post_status, _ = base.call(setup.url, "POST", DECISION_PATH, {"approve": False}, token)
    finally:
        setup.stop()
    kinds = ["GET"] + (["POST"] if post_status not in (405,) else [])

    for layer, settings in ({} if corpus_only else LAYERS).items():
        for kind in kinds:
            server = Nimbus(binary, data_dir, settings)
            try:
                # Steady state: until its prefilter is built (a few hundred ms after the start)
                # every request goes to the engine; the benign corpus below waits the same way.
                if settings["firewall.enabled"] == "true":
                    wait_prefilter(server.url)
                figures = load(server.url, duration, token, kind)
                results["layers"][f"{kind} {layer}"] = row(figures, step_means_us(server.url))
            finally:
                server.stop()

    script = corpus_script(work)
    # The corpus repeats its 42 requests, so with its clean-text cache the prefilter screens
    # each text once per I/O thread; without it, every text of every request is screened as if
    # seen for the first time (the figure for traffic that never repeats).
    for name, settings in {
            "nimbus, firewall with prefilter": {"firewall.prefilter": "true"},
            "nimbus, prefilter without its cache": {"firewall.prefilter": "true",
                                                    "firewall.prefilter_cache_entries": "0"},
            "nimbus, firewall without prefilter": {"firewall.prefilter": "false"}}.items():
        server = Nimbus(binary, data_dir, {"firewall.enabled": "true",
                                           "rate_limit.enabled": "false", **settings})
        try:
            with_prefilter = settings["firewall.prefilter"] == "true"
            if with_prefilter:
                wait_prefilter(server.url)
            detection = ("nimbus, engine only" if not with_prefilter else
                         "nimbus" if "firewall.prefilter_cache_entries" not in settings else
                         "nimbus, prefilter without its cache")
            results["detection"][detection] = {
                "attacks": verdicts(server.url, ATTACKS, ours=True),
                "benign": verdicts(server.url, CORPUS, ours=True)}
            figures = wrk(server.url, duration, "corpus.lua", [script])
            results["corpus"][name] = row(figures, step_means_us(server.url))
        finally:
            server.stop()

    upstream = Nimbus(binary, data_dir, {"firewall.enabled": "false",
                                         "rate_limit.enabled": "false"})
    try:
        for name, modsecurity in (("nginx + ModSecurity + CRS (PL1)", True),
                                  ("nginx without ModSecurity", False)):
            nginx = Nginx(work, upstream.port, modsecurity)
            try:
                if modsecurity:
                    results["detection"]["nginx"] = {
                        "attacks": verdicts(nginx.url, ATTACKS, ours=False),
                        "benign": verdicts(nginx.url, CORPUS, ours=False)}
                results["corpus"][name + " -> nimbus"] = row(
                    wrk(nginx.url, duration, "corpus.lua", [script]))
                for kind in kinds:
                    results["nginx"][f"{kind} {name} -> nimbus"] = row(
                        load(nginx.url, duration, token, kind))
            finally:
                nginx.stop()
    finally:
        upstream.stop()
    return results


def print_results(results):
    print(f"\n{'gateway layer (64 connections)':<46} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'non-2xx':>8}  step µs (firewall/auth/rate_limit/validate)")
    for name, f in list(results["layers"].items()) + list(results["nginx"].items()):
        steps = f.get("step_us", {})
        step_text = "/".join(str(steps.get(s, "-")) for s in STEPS) if steps else ""
        print(f"{name:<46} {f['requests_per_s']:>9.0f} {f['p50_us'] / 1000:>7.2f} "
              f"{f['p99_us'] / 1000:>7.2f} {f['non_2xx']:>8}  {step_text}")
    print(f"\n{'benign corpus':<46} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7}  firewall µs")
    for name, f in results["corpus"].items():
        firewall = f.get("step_us", {}).get("firewall", "")
        print(f"{name:<46} {f['requests_per_s']:>9.0f} {f['p50_us'] / 1000:>7.2f} "
              f"{f['p99_us'] / 1000:>7.2f}  {firewall}")
    ours = results["corpus"].get("nimbus, firewall with prefilter")
    uncached = results["corpus"].get("nimbus, prefilter without its cache")
    theirs = results["corpus"].get("nginx + ModSecurity + CRS (PL1) -> nimbus")
    if ours and theirs:
        print(f"\nNimbus with its firewall serves {ours['requests_per_s'] / theirs['requests_per_s']:.1f}x "
              "the requests/s of nginx + ModSecurity + CRS on the benign corpus")
    if uncached and theirs:
        print(f"without the prefilter's clean-text cache (every text screened): "
              f"{uncached['requests_per_s'] / theirs['requests_per_s']:.1f}x")
    detection = results.get("detection", {})
    if "nimbus" in detection:
        attacks = sum(1 for line in ATTACKS.read_text().splitlines() if line.strip())
        benign = sum(1 for line in CORPUS.read_text().splitlines() if line.strip())
        for name, found in detection.items():
            print(f"{name:<20} refused {len(found['attacks'])}/{attacks} attacks, "
                  f"{len(found['benign'])}/{benign} benign requests")
        # The prefilter must change no verdict: the same requests refused with and without it.
        engine = detection.get("nimbus, engine only")
        if engine is not None:
            same = all(sorted(found[kind]) == sorted(engine[kind])
                       for name, found in detection.items() if name.startswith("nimbus")
                       for kind in ("attacks", "benign"))
            print("prefilter on (with and without its cache) and off: " +
                  ("the same verdicts on both corpora" if same else
                   "verdicts DIFFER: " + json.dumps(detection)))
        # Against nginx the rule sets differ on purpose (docs/gateway.md): Nimbus adds 99001
        # (JNDI in any header) and removes 933210 (it matches Markdown links).
        if "nginx" in detection:
            for kind in ("attacks", "benign"):
                ours_only = sorted(set(detection["nimbus"][kind]) - set(detection["nginx"][kind]))
                theirs_only = sorted(set(detection["nginx"][kind]) - set(detection["nimbus"][kind]))
                print(f"{kind}: refused by Nimbus only {ours_only or '-'}; "
                      f"by nginx only {theirs_only or '-'}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=int(os.environ.get("NIMBUS_BENCH_SECONDS", "5")))
    parser.add_argument("--binary", default=os.environ.get(
        "NIMBUS_BENCH_BINARY", str(ROOT / "build" / "release" / "src" / "app" / "nimbus")))
    parser.add_argument("--corpus-only", action="store_true",
                        help="skip the layers; only the corpus against nginx")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="nimbus-gateway-bench-")
    os.chmod(work, 0o755)
    try:
        results = gateway_suite(args.binary, args.duration, work, args.corpus_only)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_results(results)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    (out / f"{stamp}-gateway.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: bench/results/{stamp}-gateway.json")


if __name__ == "__main__":
    sys.exit(main())
