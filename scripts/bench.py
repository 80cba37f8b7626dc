#!/usr/bin/env python3
"""`make bench`: each figure measured beside its reference in one run on this machine, as a ratio.

- verify cost per signature scheme at 1 KB and 64 KB (criterion) vs its raw primitive (goal <= 1.3x);
- ingress CPU (user+system, from the process's rusage) per accepted 2 KB webhook through moto vs
  `bare-sdk`, a program making the same three SDK calls with the same clients and bodies (<= 1.2x);
- cold start to first answer under a Lambda Runtime API emulator vs a hello-world lambda_http
  binary of the same profile (<= 2x);
- the Lambda bed (`--parts lambda`): every AWS endpoint behind TLS (scripts/tls_terminator.py, one
  listener per service, the bench's own CA in AWS_CA_BUNDLE and SSL_CERT_FILE) and each cold start
  in a cgroup v1 CPU quota of memory/1,769 of a core (needs root; refused, it says so and measures
  on full cores), at 128, 256, 512 and 1,024 MB: init vs the hello-world's (<= 2x) and the first
  request after it vs a warm one (<= 2x), wall and CPU time, and the memory-size table with the
  cost per million 2 KB webhooks (`--lambda-baseline BINARY` measures another ingress beside it);
- stripped release binary size of each function (<= 10 MB);
- peak resident memory (VmHWM) of the ingress under a Lambda Runtime API emulator for one signed
  6 MiB JSON body (`[0,0,...]`, and a nested catalogue export), with `LARGE_BODY_BUCKET` on moto,
  above its idle figure once its init is over (goal <= 64 MiB above idle; `MemorySize` follows);
- sweeper drain rate and CPU per row over a backlog of 20,000 pending rows in `fake-aws` (an
  in-memory DynamoDB and SQS answering at once), with the latency proxy adding 0, 5, 20 and 50 ms
  to every AWS call, each with 1, 4 and 8 of the 8 shards swept at once; and over 1,000 rows in a
  fresh moto, whose own time per call bounds the rate there.

Prints one Markdown table and writes it to docs/bench-results.md (docs/benchmarks.md links it).

    make bench                                     # release builds, moto on MOTO_ENDPOINT
    .venv/bin/python scripts/bench.py --webhooks 500 --rows 2000 --latencies 0,20   # quicker
    .venv/bin/python scripts/bench.py --skip-build --parts lambda --lambda-sizes 256 \
        --lambda-baseline target/ingress-before                 # two builds on the Lambda bed
"""
import argparse
import base64
import datetime
import http.client
import http.server
import json
import math
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid

import boto3
from standardwebhooks.webhooks import Webhook

ROOT = pathlib.Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
RESULTS = ROOT / "docs" / "bench-results.md"
CACHE = ROOT / "target" / "bench-parts.json"
FIXTURE = ROOT / "ingress" / "tests" / "it" / "data" / "function_url_request.json"
SECRET = "whsec_" + base64.b64encode(b"bench-secret-0123456789abcdef").decode()
SHARDS = 8
MB = 1024 * 1024
NOTES = []


def cargo(*args):
    subprocess.run(["cargo", *args], cwd=ROOT, check=True)


def cpu_seconds(process):
    """Waits for `process` and returns its user+system CPU time from the kernel's rusage."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def function_env(stack, **extra):
    """The functions' environment for `stack` (its endpoint, table, queue and secret parameter)."""
    return {**os.environ, "SOURCE_NAME": "bench", "OUTBOX_TABLE": stack.table,
            "QUEUE_URL": stack.queue_url, "SECRET_PARAMETER": stack.parameter,
            "SIGNATURE_SCHEME": "standard-webhooks", "PENDING_SHARDS": str(SHARDS),
            "GRACE_SECS": "120", "AWS_ENDPOINT_URL": stack.endpoint, "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", **extra}


class Stack:
    """A private table, queues and secret parameter on moto, and a thread draining the queue so
    moto's depth-dependent slowdown does not skew what is measured."""

    def __init__(self, endpoint, bucket=False):
        self.endpoint = endpoint
        suffix = uuid.uuid4().hex[:8]
        self.table, self.parameter = f"bench-outbox-{suffix}", f"/bench/{suffix}/secret"
        self.bucket = f"bench-bodies-{suffix}" if bucket else None
        created = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "localstack.py"), "--endpoint", endpoint,
             "--table", self.table, "--queue", f"bench-events-{suffix}", "--dlq", f"bench-dlq-{suffix}",
             "--parameter", self.parameter, "--secret", SECRET,
             *(["--bucket", self.bucket] if bucket else [])],
            check=True, capture_output=True, text=True)
        self.queue_url = json.loads(created.stdout)["queue_url"]
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                                aws_access_key_id="test", aws_secret_access_key="test")
        self.received = 0
        self._stop = threading.Event()
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _drain(self):
        while not self._stop.is_set():
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if got:
                self.received += len(got)
                self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
            else:
                time.sleep(0.05)

    def close(self):
        self._stop.set()
        self._drainer.join()

    def env(self, **extra):
        return function_env(self, **extra)


def bodies(count):
    out = subprocess.run([str(RELEASE / "bare_sdk"), "bodies", str(count)],
                         check=True, capture_output=True, text=True).stdout
    return out.splitlines()


def signed_headers(event_id, body):
    now = datetime.datetime.now(tz=datetime.timezone.utc)
    return {"webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(SECRET).sign(event_id, now, body),
            "content-type": "application/json"}


def wait_for_port(address, timeout=20.0):
    host, port = address.split(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"bench.py: nothing listens on {address}")


# --- verify -------------------------------------------------------------------------------------

VERIFY_REFERENCE = {
    "discord": ("raw-ed25519", "raw Ed25519"),
    "standard-webhooks-v1a": ("raw-ed25519", "raw Ed25519"),
    "sendgrid": ("raw-ecdsa-p256", "raw ECDSA P-256"),
}


def verify_rows():
    subprocess.run([str(RELEASE / "verify"), "--bench", "--warm-up-time", "1", "--measurement-time", "3"],
                   cwd=ROOT, check=True)
    rows = []
    for size in ["1KB", "64KB"]:
        group = ROOT / "target" / "criterion" / f"verify-{size}"
        mean = lambda name: json.loads((group / name / "new" / "estimates.json").read_text())["mean"]["point_estimate"]
        for scheme in sorted(p.name for p in group.iterdir() if not p.name.startswith("raw-") and p.name != "report"):
            # Each scheme beside its own primitive: Ed25519 and ECDSA cost far more than an HMAC.
            raw, label = VERIFY_REFERENCE.get(scheme, ("raw-hmac-sha256", "raw HMAC-SHA256"))
            ours, reference = mean(scheme), mean(raw)
            rows.append((f"verify {scheme}, {size}", f"{ours / 1000:.2f} µs",
                         f"{reference / 1000:.2f} µs {label}", ours / reference, 1.3))
    return rows


# --- ingress CPU ----------------------------------------------------------------------------------

def ingress_cpu_rows(endpoint, count, listen):
    stack = Stack(endpoint)
    try:
        payloads = bodies(count)
        ingress = subprocess.Popen([str(RELEASE / "ingress")], env=stack.env(INGRESS_LISTEN=listen),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # What the function would send to CloudWatch Logs, and its own latency per webhook.
        log_lines = []
        reader = threading.Thread(target=lambda: log_lines.extend(ingress.stdout), daemon=True)
        reader.start()
        wait_for_port(listen)
        run = uuid.uuid4().hex[:6]
        statuses = {}
        lock = threading.Lock()

        def client(part):
            host, port = listen.split(":")
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            for n in range(part, count, 4):
                body = payloads[n]
                connection.request("POST", "/", body=body.encode(), headers=signed_headers(f"{run}-{n}", body))
                answer = connection.getresponse()
                answer.read()
                with lock:
                    statuses[answer.status] = statuses.get(answer.status, 0) + 1

        threads = [threading.Thread(target=client, args=(part,)) for part in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ingress.send_signal(signal.SIGTERM)
        ours = cpu_seconds(ingress) / count
        reader.join()
        latencies = [json.loads(line)["LatencyMs"] for line in log_lines if b'"LatencyMs"' in line]
        NOTES.append(f"ingress log output {sum(map(len, log_lines)) / count:.0f} bytes per webhook "
                     f"(CloudWatch Logs adds ~300 bytes of START/END/REPORT lines); handler latency "
                     f"p50 {statistics.median(latencies):.1f} ms against moto")
        if statuses.get(200) != count:
            sys.exit(f"bench.py: the ingress answered {statuses}, expected {count} x 200")
        bare = subprocess.Popen([str(RELEASE / "bare_sdk"), "run", str(count), f"bare-{run}"],
                                env=stack.env(RUST_LOG="warn"), stdin=subprocess.PIPE)
        bare.stdin.write("\n".join(payloads).encode() + b"\n")
        bare.stdin.close()
        reference = cpu_seconds(bare) / count
        if bare.returncode != 0:
            sys.exit("bench.py: bare_sdk failed")
    finally:
        stack.close()
    return [(f"ingress CPU per accepted 2 KB webhook ({count})", f"{ours * 1e6:.0f} µs",
             f"{reference * 1e6:.0f} µs bare SDK calls", ours / reference, 1.2)]


# --- cold start -----------------------------------------------------------------------------------

class RuntimeApi(http.server.ThreadingHTTPServer):
    """The Lambda Runtime API, one invocation: hands out `event`, records when the function first
    asked for work (its init is over then) and when the answer came."""

    def __init__(self, event):
        self.event, self.answered = event.encode(), threading.Event()
        self.served = False
        self.asked_at = None
        super().__init__(("127.0.0.1", 0), RuntimeHandler)

    def handle_error(self, request, client_address):
        pass  # the function's process is killed mid-poll once it answered


class RuntimeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.server.served:
            time.sleep(30)  # the process is killed once it answered
            return
        self.server.served = True
        self.server.asked_at = time.monotonic()
        if getattr(self.server, "pid", None):
            self.server.idle_kib = peak_rss_kib(self.server.pid)
        self.send_response(200)
        self.send_header("lambda-runtime-aws-request-id", "bench-request")
        self.send_header("lambda-runtime-deadline-ms", str(int(time.time() * 1000) + 30_000))
        self.send_header("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("content-length", str(len(self.server.event)))
        self.end_headers()
        self.wfile.write(self.server.event)

    def do_POST(self):
        self.server.answer = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()
        if "/response" in self.path or "/error" in self.path:
            self.server.kind = self.path.rsplit("/", 1)[-1]
            self.server.answered.set()


def cold_start(binary, env, event):
    api = RuntimeApi(event)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    lambda_env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
                  "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "RUST_LOG": "warn"}
    started = time.monotonic()
    process = subprocess.Popen([str(binary)], env=lambda_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    answered = api.answered.wait(20)
    took = time.monotonic() - started
    process.kill()
    process.wait()
    api.shutdown()
    if not answered or api.kind != "response":
        sys.exit(f"bench.py: {binary.name} gave no response under the runtime API")
    return took, api.asked_at - started


def moto_round_trip_ms(endpoint, stack):
    """Median time moto takes to answer each of the init's three calls over a warm connection, as
    raw HTTP (no SDK): the part of a cold start that is the emulator's, not the function's."""
    host, port = endpoint.split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    calls = [("ssm", "AmazonSSM.GetParameter", "1.1", {"Name": stack.parameter, "WithDecryption": True}),
             ("dynamodb", "DynamoDB_20120810.DescribeTable", "1.0", {"TableName": stack.table}),
             ("sqs", "AmazonSQS.GetQueueAttributes", "1.0", {"QueueUrl": stack.queue_url, "AttributeNames": ["QueueArn"]})]
    out = {}
    for service, target, version, body in calls:
        headers = {"x-amz-target": target, "content-type": f"application/x-amz-json-{version}",
                   "authorization": f"AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, "
                                    "SignedHeaders=host, Signature=0"}
        took = []
        for _ in range(21):
            started = time.perf_counter()
            connection.request("POST", "/", body=json.dumps(body), headers=headers)
            answer = connection.getresponse()
            answer.read()
            took.append(time.perf_counter() - started)
            if answer.status != 200:
                sys.exit(f"bench.py: moto answered {target} with {answer.status}")
        out[target.split(".")[1]] = statistics.median(took) * 1000
    connection.close()
    return out


def cold_start_rows(endpoint, runs):
    stack = Stack(endpoint)
    try:
        moto = moto_round_trip_ms(endpoint, stack)
        event = json.loads(FIXTURE.read_text())
        body = bodies(1)[0]
        event["requestContext"]["http"]["method"] = "POST"
        event["body"], event["isBase64Encoded"] = body, False
        times = {"ingress": [], "hello_lambda": [], "ingress, in-memory AWS": []}
        inits = {name: [] for name in times}
        with FakeAws() as fake:
            for n in range(runs):
                event["headers"] = signed_headers(f"cold-{uuid.uuid4().hex[:8]}-{n}", body)
                for name, binary, env in [("ingress", "ingress", stack.env()),
                                          ("hello_lambda", "hello_lambda", stack.env()),
                                          ("ingress, in-memory AWS", "ingress", fake.env())]:
                    took, init = cold_start(RELEASE / binary, env, json.dumps(event))
                    times[name].append(took)
                    inits[name].append(init)
    finally:
        stack.close()
    ours, reference = statistics.median(times["ingress"]), statistics.median(times["hello_lambda"])
    split = {name: (statistics.median(inits[name]) * 1000,
                    statistics.median([t - i for t, i in zip(times[name], inits[name])]) * 1000)
             for name in times}
    NOTES.append(f"cold start, medians: ingress init {split['ingress'][0]:.0f} ms (SSM GetParameter beside "
                 f"DescribeTable and GetQueueAttributes on moto) + first request {split['ingress'][1]:.0f} ms "
                 f"(PutItem, SendMessage, UpdateItem on moto); hello-world init {split['hello_lambda'][0]:.0f} ms "
                 f"+ first request {split['hello_lambda'][1]:.0f} ms; moto alone answers "
                 + ", ".join(f"{name} in {ms:.1f} ms" for name, ms in moto.items())
                 + " (raw HTTP on a warm connection); against the in-memory AWS (fake-aws, every call "
                 f"answered at once) the ingress's init takes {split['ingress, in-memory AWS'][0]:.0f} ms and its "
                 f"first request {split['ingress, in-memory AWS'][1]:.0f} ms")
    own = statistics.median(times["ingress, in-memory AWS"])
    return [(f"cold start to first answer (median of {runs})", f"{ours * 1000:.0f} ms",
             f"{reference * 1000:.0f} ms hello-world lambda_http", ours / reference, 2.0),
            (f"cold start to first answer, in-memory AWS (median of {runs})", f"{own * 1000:.0f} ms",
             f"{reference * 1000:.0f} ms hello-world lambda_http", own / reference, 2.0)]


# --- Lambda-like bed --------------------------------------------------------------------------------

LAMBDA_SIZES = (128, 256, 512, 1024)
FULL_CORE_MB = 1769  # Lambda gives one vCPU at 1,769 MB, CPU in proportion to memory below it
CGROUP_CPU = pathlib.Path("/sys/fs/cgroup/cpu")
TLS_SERVICES = ("ssm", "dynamodb", "sqs", "s3")
# What AWS bills: arm64 Lambda (the deployed architecture, terraform's default) per GB-second and
# per request, and the rest of a 2 KB webhook's bill from docs/COST.md (DynamoDB 4 WRU $2.50 +
# storage $0.11, SQS $0.40, Logs $0.50), which memory size does not change.
LAMBDA_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
REST_PER_MILLION_2KB = 2.50 + 0.11 + 0.40 + 0.50


class BenchTls:
    """The bench's own certificate authority, a server certificate for 127.0.0.1 signed by it, and
    the PEM bundles a user would hand the SDK: AWS_CA_BUNDLE, which the functions read first
    (Amazon Trust Services' roots, their default, plus that CA), and SSL_CERT_FILE, which a build
    without AWS_CA_BUNDLE reads through rustls-native-certs instead of the system's store (the
    system's roots plus that CA, so its parsing cost stays). RSA 2048, as AWS's endpoints' are."""

    def __init__(self):
        self.dir = ROOT / "target" / "bench-tls"
        self.dir.mkdir(parents=True, exist_ok=True)
        ca, ca_key = self.dir / "ca.pem", self.dir / "ca.key"
        self.cert, self.key = self.dir / "server.pem", self.dir / "server.key"
        self.bundle = self.dir / "bundle.pem"
        run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
            "-days", "2", "-subj", "/CN=webhook-ingress bench CA")
        csr = self.dir / "server.csr"
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key), "-out", str(csr),
            "-subj", "/CN=127.0.0.1")
        extensions = self.dir / "server.ext"
        extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                              "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(self.cert), "-days", "2", "-extfile", str(extensions))
        system = pathlib.Path("/etc/ssl/certs/ca-certificates.crt")
        self.bundle.write_text((system.read_text() if system.exists() else "") + ca.read_text())
        # AWS_CA_BUNDLE, which the functions read before SSL_CERT_FILE: the Amazon roots they trust
        # by default, plus the bench CA.
        self.aws_bundle = self.dir / "aws-bundle.pem"
        self.aws_bundle.write_text((ROOT / "shared" / "certs" / "amazon-trust-services.pem").read_text()
                                   + ca.read_text())


class TlsFront:
    """scripts/tls_terminator.py in front of `endpoint`: one HTTPS listener per AWS service, so
    each service needs a connection (and a handshake) of its own, as on AWS."""

    def __init__(self, tls, endpoint):
        self.tls, self.upstream = tls, endpoint.split("//")[1]

    def __enter__(self):
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "tls_terminator.py"), "--upstream", self.upstream,
             "--cert", str(self.tls.cert), "--key", str(self.tls.key), *TLS_SERVICES],
            stdout=subprocess.PIPE, text=True)
        self.urls = {}
        for _ in TLS_SERVICES:
            _, service, url = self.process.stdout.readline().split()
            self.urls[service] = url
        return self

    def env(self, env):
        """`env` with every AWS endpoint behind TLS and the bench CA trusted through SSL_CERT_FILE."""
        out = {name: value for name, value in env.items() if name != "AWS_ENDPOINT_URL"}
        out.update({f"AWS_ENDPOINT_URL_{service.upper()}": url for service, url in self.urls.items()})
        out["SSL_CERT_FILE"] = str(self.tls.bundle)
        out["AWS_CA_BUNDLE"] = str(self.tls.aws_bundle)
        return out

    def __exit__(self, *_):
        self.process.terminate()
        self.process.wait()


class CpuQuota:
    """A cgroup v1 CPU quota of memory/1,769 of a core, Lambda's CPU share for `memory_mb`, for the
    function's process alone (the emulators and this script stay outside). `refused` says why not
    when the machine does not allow one; the figures are then measured on full cores."""

    PERIOD_US = 100_000

    def __init__(self, memory_mb):
        self.quota_us = max(1000, round(self.PERIOD_US * memory_mb / FULL_CORE_MB))
        self.path = CGROUP_CPU / f"webhook-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.refused, self.tasks = None, None
        try:
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(self.quota_us))
            self.tasks = os.open(self.path / "tasks", os.O_WRONLY)
        except OSError as err:
            self.refused = f"{type(err).__name__}: {err}"

    def enter(self):
        """Runs in the child between fork and exec: moves it into the group before it runs."""
        if self.tasks is not None:
            os.write(self.tasks, str(os.getpid()).encode())

    def close(self):
        if self.tasks is not None:
            os.close(self.tasks)
            try:
                self.path.rmdir()
            except OSError:
                pass


class RuntimeSeries(http.server.ThreadingHTTPServer):
    """The Lambda Runtime API handing out `events` one after the other; records when each was
    handed out (the first one: when the function's init was over) and when its answer came."""

    def __init__(self, events):
        self.events = [event.encode() for event in events]
        self.handed, self.answered_at, self.kinds = [], [], []
        self.cpu_handed, self.cpu_answered = [], []
        self.pid, self.started = None, threading.Event()  # set once Popen returned
        self.done = threading.Event()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), SeriesHandler)

    def handle_error(self, request, client_address):
        pass  # the function's process is killed mid-poll once it answered


class SeriesHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm the body would wait for the
    # function's delayed ACK (40 ms) on a kept-alive connection, which no runtime on AWS adds.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        server.started.wait(10)  # a fast function polls before Popen has returned its id
        with server.lock:
            n = len(server.handed)
            if n < len(server.events):
                server.handed.append(time.monotonic())
                server.cpu_handed.append(cpu_ns(server.pid))
        if n >= len(server.events):
            time.sleep(30)  # the process is killed once it answered them all
            return
        self.send_response(200)
        self.send_header("lambda-runtime-aws-request-id", f"bench-request-{n}")
        self.send_header("lambda-runtime-deadline-ms", str(int(time.time() * 1000) + 30_000))
        self.send_header("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("content-length", str(len(server.events[n])))
        self.end_headers()
        self.wfile.write(server.events[n])

    def do_POST(self):
        answer = self.rfile.read(int(self.headers.get("content-length", 0)))
        at = time.monotonic()
        cpu = cpu_ns(self.server.pid)
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()
        if "/response" in self.path or "/error" in self.path:
            kind = self.path.rsplit("/", 1)[-1]
            status = json.loads(answer).get("statusCode") if kind == "response" and answer else None
            with self.server.lock:
                self.server.answered_at.append(at)
                self.server.cpu_answered.append(cpu)
                self.server.kinds.append((kind, status))
                if len(self.server.answered_at) == len(self.server.events):
                    self.server.done.set()


def cpu_ns(pid):
    """CPU time the process `pid` has used so far (all its threads, from the scheduler's
    statistics), in ns: unlike wall time, it does not move with the machine's load."""
    if pid is None:
        return None
    total = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def lambda_series(binary, env, events, quota, memory_mb):
    """One cold start of `binary` under `quota`, then `events` in turn: (init, first, warm) wall
    time and (init, first, warm) CPU time in seconds, warm being the median of the later events."""
    api = RuntimeSeries(events)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    lambda_env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
                  "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb), "RUST_LOG": "warn"}
    started = time.monotonic()
    process = subprocess.Popen([str(binary)], env=lambda_env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, preexec_fn=quota.enter)
    api.pid = process.pid
    api.started.set()
    answered = api.done.wait(60)
    process.kill()
    process.wait()
    api.shutdown()
    bad = [kind for kind in api.kinds if kind[0] != "response" or kind[1] not in (None, 200)]
    if not answered or bad:
        sys.exit(f"bench.py: {binary.name} under the Lambda bed answered {api.kinds} ({len(events)} events)")
    init = api.handed[0] - started
    spans = [done - handed for handed, done in zip(api.handed, api.answered_at)]
    if None in api.cpu_handed or None in api.cpu_answered:
        sys.exit(f"bench.py: the Runtime API was polled before {binary.name}'s process id was known")
    cpu = [done - handed for handed, done in zip(api.cpu_handed, api.cpu_answered)]
    return (init, spans[0], statistics.median(spans[1:]),
            api.cpu_handed[0] / 1e9, cpu[0] / 1e9, statistics.median(cpu[1:]) / 1e9)


def lambda_rows(endpoint, runs, warm, sizes, baseline=None):
    tls = BenchTls()
    stack = Stack(endpoint)
    event = json.loads(FIXTURE.read_text())
    event["requestContext"]["http"]["method"] = "POST"
    body = bodies(1)[0]
    event["body"], event["isBase64Encoded"] = body, False

    def events():
        out = []
        for _ in range(1 + warm):
            event["headers"] = signed_headers(f"bed-{uuid.uuid4().hex}", body)
            out.append(json.dumps(event))
        return out

    results, refusals, refused_sizes = {}, [], set()
    try:
        with FakeAws() as fake, TlsFront(tls, stack.endpoint) as moto_tls, TlsFront(tls, fake.endpoint) as fake_tls:
            beds = [("hello_lambda", "hello_lambda", stack.env()),
                    ("ingress, moto", "ingress", moto_tls.env(stack.env())),
                    ("ingress, in-memory AWS", "ingress", fake_tls.env(fake.env()))]
            if baseline:  # another build of the ingress, side by side (before and after a change)
                beds += [("baseline ingress, moto", baseline, moto_tls.env(stack.env())),
                         ("baseline ingress, in-memory AWS", baseline, fake_tls.env(fake.env()))]
            for memory_mb in sizes:
                for _ in range(runs):  # interleaved, so a busy moment of the machine hits all alike
                    for name, binary, env in beds:
                        # A group of its own per cold start: a group's quota is spent per period by
                        # all its processes, and the last one's spending would throttle the next.
                        quota = CpuQuota(memory_mb)
                        if quota.refused and memory_mb not in refused_sizes:
                            refused_sizes.add(memory_mb)
                            refusals.append(f"{memory_mb} MB ({quota.refused})")
                            print(f"bench.py: no cgroup CPU quota for {memory_mb} MB, measuring on full "
                                  f"cores: {quota.refused}", file=sys.stderr)
                        try:
                            results.setdefault((memory_mb, name), []).append(
                                lambda_series(RELEASE / binary, env, events(), quota, memory_mb))
                        finally:
                            quota.close()
    finally:
        stack.close()
    medians = {key: tuple(statistics.median(run[i] for run in values) * 1000 for i in range(6))
               for key, values in results.items()}
    LAMBDA_TABLE.clear()
    LAMBDA_TABLE.update({f"{mb}|{name}": figures for (mb, name), figures in medians.items()})
    rows = []
    for memory_mb in sizes:
        hello = medians[(memory_mb, "hello_lambda")]
        for name in ("ingress, moto", "ingress, in-memory AWS", "baseline ingress, moto",
                     "baseline ingress, in-memory AWS"):
            if (memory_mb, name) not in medians:
                continue
            init, first, warm_ms, init_cpu, first_cpu, warm_cpu = medians[(memory_mb, name)]
            rows.append((f"Lambda bed {memory_mb} MB, {name}: init (median of {runs})",
                         f"{init:.0f} ms ({init_cpu:.1f} ms CPU)",
                         f"{hello[0]:.0f} ms ({hello[3]:.1f} ms CPU) hello-world init", init / hello[0], 2.0))
            rows.append((f"Lambda bed {memory_mb} MB, {name}: first request after a cold start",
                         f"{first:.1f} ms ({first_cpu:.2f} ms CPU)",
                         f"{warm_ms:.1f} ms ({warm_cpu:.2f} ms CPU) warm request (median of {warm})",
                         first / warm_ms, 2.0))
    quota_note = ("every function process in a cgroup v1 CPU quota of memory/1,769 of a core "
                  f"(period {CpuQuota.PERIOD_US} µs)" if not refusals else
                  "the machine refused a cgroup CPU quota for " + ", ".join(refusals)
                  + ", so those sizes ran on full cores")
    NOTES.append("Lambda bed: " + quota_note + "; every AWS endpoint HTTPS through scripts/tls_terminator.py "
                 "(one listener per service, RSA 2048 certificate of the bench's own CA, handed to the SDK in "
                 "AWS_CA_BUNDLE with the Amazon roots the functions trust, and in SSL_CERT_FILE with the "
                 "system's roots for builds that read only that); the Runtime API emulator hands out one signed 2 KB "
                 f"webhook after the init and {warm} more, each with a fresh event id; init is exec to the "
                 "first poll, a request is hand-out to answer; CPU is the process's (all threads, from "
                 "/proc/PID/task/*/schedstat), which the machine's load does not move as it moves wall time; "
                 "hello-world makes no AWS call. Per size, wall ms (init / first / warm) and CPU ms (same): "
                 + "; ".join(f"{mb} MB " + ", ".join(
                     f"{name} {medians[(mb, name)][0]:.0f} / {medians[(mb, name)][1]:.1f} / "
                     f"{medians[(mb, name)][2]:.1f} wall, {medians[(mb, name)][3]:.1f} / "
                     f"{medians[(mb, name)][4]:.2f} / {medians[(mb, name)][5]:.2f} CPU"
                     for name in ("hello_lambda", "ingress, moto", "ingress, in-memory AWS",
                                  "baseline ingress, moto", "baseline ingress, in-memory AWS")
                     if (mb, name) in medians)
                     for mb in sizes))
    return rows


LAMBDA_TABLE = {}
COLD_START_RATE = 0.01


def memory_size_table(medians):
    """Per memory size: the ingress's init, first and warm request on the bed (moto behind TLS),
    and what a million 2 KB webhooks cost with COLD_START_RATE of them arriving at a cold start
    (billed init + first request instead of a warm request; Lambda bills the init phase too)."""
    lines = ["| memory | CPU share | init | first request | warm request | hello-world init | "
             "Lambda per million 2 KB webhooks | all in per million |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key in sorted((k for k in medians if k.endswith("|ingress, moto")), key=lambda k: int(k.split("|")[0])):
        memory_mb = int(key.split("|")[0])
        init, first, warm = medians[key][:3]
        hello = medians[f"{memory_mb}|hello_lambda"][0]
        billed_ms = ((1 - COLD_START_RATE) * math.ceil(warm)
                     + COLD_START_RATE * (math.ceil(init) + math.ceil(first)))
        lambda_cost = 1e6 * (LAMBDA_REQUEST + billed_ms / 1000 * memory_mb / 1024 * LAMBDA_GB_SECOND)
        lines.append(f"| {memory_mb} MB | {memory_mb / FULL_CORE_MB:.3f} vCPU | {init:.0f} ms | {first:.1f} ms | "
                     f"{warm:.1f} ms | {hello:.0f} ms | ${lambda_cost:.2f} | ${lambda_cost + REST_PER_MILLION_2KB:.2f} |")
    return ("memory sizes (ingress against moto behind TLS, medians; cost at arm64 prices (the figures are x86_64 on this machine), "
            f"${LAMBDA_GB_SECOND} per GB-second and $0.20 per million requests, each duration billed "
            f"in whole ms, {COLD_START_RATE:.0%} of webhooks arriving at a cold start that bills init + first "
            f"request; all in adds ${REST_PER_MILLION_2KB:.2f} of DynamoDB, SQS and Logs from docs/COST.md):\n\n"
            + "\n".join(lines))


# --- memory ---------------------------------------------------------------------------------------

def peak_rss_kib(pid):
    """The process's peak resident set size so far (VmHWM), in KiB."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    sys.exit(f"bench.py: no VmHWM for process {pid}")


def six_mib_bodies():
    """Two JSON bodies of exactly 6 MiB: `[0,0,...,0]` (a Value tree of it takes ~32x its size) and
    a catalogue export whose `type` and `id` come after 6 MiB of nested items."""
    size = 6 * MB
    zeros = "[" + "0," * ((size - 4) // 2) + "0] "  # trailing whitespace: exactly 6 MiB
    items, n, length = [], 0, len('{"data":{"items":[')
    while length < size - 200:
        item = (f'{{"id":"item-{n:07}","name":"Widget \\u00e9 {n}","price":{{"amount":{n},'
                f'"currency":"EUR"}},"tags":["a","b"]}}')
        items.append(item)
        length += len(item) + 1
        n += 1
    nested = '{"data":{"items":[' + ",".join(items) + ']},"type":"catalog.exported","id":"evt_1"}'
    nested += " " * (size - len(nested))  # JSON allows trailing whitespace: exactly 6 MiB
    return [("[0,0,...]", zeros), ("nested catalogue export", nested)]


def memory_peak(binary, env, event):
    """Under the runtime emulator: the function's peak RSS (KiB) once its init is over (when it
    first asks for work) and once it answered `event`, and the HTTP status it answered."""
    api = RuntimeApi(event)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    lambda_env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
                  "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "RUST_LOG": "warn"}
    process = subprocess.Popen([str(binary)], env=lambda_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api.pid = process.pid
    answered = api.answered.wait(60)
    peak = peak_rss_kib(process.pid) if answered else None
    process.kill()
    process.wait()
    api.shutdown()
    if not answered or api.kind != "response" or getattr(api, "idle_kib", None) is None:
        sys.exit(f"bench.py: {binary.name} gave no response under the runtime API")
    return api.idle_kib, peak, json.loads(api.answer)["statusCode"]


def memory_rows(endpoint):
    stack = Stack(endpoint, bucket=True)
    rows = []
    try:
        event = json.loads(FIXTURE.read_text())
        event["requestContext"]["http"]["method"] = "POST"
        env = stack.env(LARGE_BODY_BUCKET=stack.bucket, MAX_BODY_BYTES=str(6 * MB),
                        RESPONSE_BUDGET_MS="10000")
        for name, body in six_mib_bodies():
            event["headers"] = signed_headers(f"memory-{uuid.uuid4().hex[:8]}", body)
            event["body"], event["isBase64Encoded"] = body, False
            idle, peak, status = memory_peak(RELEASE / "ingress", env, json.dumps(event))
            if status != 200:
                sys.exit(f"bench.py: the ingress answered the 6 MiB body ({name}) with {status}")
            above = (peak - idle) / 1024
            rows.append((f"ingress peak memory, signed 6 MiB {name} body (Lambda runtime, S3 claim check)",
                         f"{peak / 1024:.1f} MiB, +{above:.1f} MiB above idle", f"{idle / 1024:.1f} MiB idle",
                         above / 64, 1.0))
    finally:
        stack.close()
    NOTES.append("memory: peak resident set (VmHWM) of the ingress process under the runtime emulator; idle is "
                 "its figure when its init is over (SSM read, connections opened), before the 6 MiB event; "
                 "the event itself (a Function URL event holding the 6 MiB body as a JSON string) is read and "
                 "parsed by lambda_http before the ingress sees the body; RESPONSE_BUDGET_MS=10000 so moto's "
                 "S3 has time for the PutObject")
    return rows


# --- binary size ----------------------------------------------------------------------------------

def size_rows():
    reference = (RELEASE / "hello_lambda").stat().st_size
    return [(f"stripped release binary, {name}", f"{(RELEASE / name).stat().st_size / MB:.1f} MB",
             f"{reference / MB:.1f} MB hello-world lambda_http", (RELEASE / name).stat().st_size / (10 * MB), 1.0)
            for name in ["ingress", "sweeper"]]


# --- sweeper drain --------------------------------------------------------------------------------

class FreshMoto:
    """A moto server of its own on a free port, with a private stack on it: moto slows down as
    its state grows (a drain against a moto that had served a few test runs was several times
    slower), so each drain starts from an empty one."""

    def __enter__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.process = subprocess.Popen([str(pathlib.Path(sys.executable).parent / "moto_server"),
                                         "-H", "127.0.0.1", "-p", str(port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            self.process.kill()
            sys.exit(f"bench.py: moto did not start on port {port}")
        self.stack = Stack(f"http://127.0.0.1:{port}")
        return self.stack

    def __exit__(self, *_):
        self.stack.close()
        self.process.terminate()
        self.process.wait()


class FakeAws:
    """`fake-aws`: an in-memory DynamoDB and SQS answering at once, so the drain measures the
    sweeper rather than the emulator; same environment shape as `Stack`."""

    def __enter__(self):
        self.process = subprocess.Popen([str(RELEASE / "fake_aws"), "--secret", SECRET],
                                        stdout=subprocess.PIPE, text=True)
        self.endpoint = self.process.stdout.readline().split()[1]
        self.table, self.parameter = "bench-outbox", "/bench/secret"
        self.queue_url = f"{self.endpoint}/000000000000/bench-events"
        return self

    def env(self, **extra):
        return function_env(self, **extra)

    def __exit__(self, *_):
        self.process.terminate()
        self.process.wait()


def drain(stack, rows, latency_ms, concurrency):
    """Writes `rows` pending rows, then runs the sweeper through the latency proxy until none is
    left; returns rows per second of the sweeps' wall time and CPU seconds per row."""
    upstream = stack.env()["AWS_ENDPOINT_URL"].split("//")[1]
    proxy = subprocess.Popen([str(RELEASE / "latency_proxy"), "--upstream", upstream,
                              "--latency-ms", str(latency_ms)], stdout=subprocess.PIPE, text=True)
    try:
        proxied = proxy.stdout.readline().split()[1]
        subprocess.run([str(RELEASE / "bare_sdk"), "pending", str(rows), uuid.uuid4().hex[:6]],
                       env=stack.env(RUST_LOG="warn"), check=True)
        wall, cpu, resent = 0.0, 0.0, 0
        for _ in range(100):
            started = time.monotonic()
            sweeper = subprocess.Popen([str(RELEASE / "sweeper")],
                                       env=stack.env(AWS_ENDPOINT_URL=proxied, RUST_LOG="warn",
                                                     SWEEP_CONCURRENCY=str(concurrency)),
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            output = sweeper.stdout.read()
            cpu += cpu_seconds(sweeper)
            wall += time.monotonic() - started
            report = next((json.loads(line) for line in output.splitlines() if '"_aws"' in line), None)
            if report is None:
                sys.exit(f"bench.py: no EMF line from the sweeper:\n{output}")
            resent += int(report["Resent"])
            if report.get("PendingCount") == 0:
                break
    finally:
        proxy.terminate()
        proxy.wait()
    if resent < rows:
        sys.exit(f"bench.py: the sweeper re-sent {resent} of {rows} rows")
    return rows / wall, cpu / rows


def drain_rows(rows, moto_rows, latencies, concurrencies):
    out = []
    for latency in latencies:
        for concurrency in concurrencies:
            with FakeAws() as stack:
                rate, cpu = drain(stack, rows, latency, concurrency)
            out.append((f"sweeper drain, {rows} rows, in-memory AWS +{latency} ms per call, "
                        f"{concurrency} of {SHARDS} shards at once", f"{rate:.0f} rows/s",
                        f"{cpu * 1e6:.0f} µs CPU per row", rate / 400, 1.0))
    for concurrency in concurrencies:
        with FreshMoto() as stack:
            rate, cpu = drain(stack, moto_rows, 0, concurrency)
        out.append((f"sweeper drain, {moto_rows} rows, moto +0 ms per call, {concurrency} of {SHARDS} shards at once",
                    f"{rate:.0f} rows/s", f"{cpu * 1e6:.0f} µs CPU per row", rate / 400, 1.0))
    NOTES.append("sweeper drain: 400 rows/s is what a one-hour SQS outage at 100 webhooks/s (360,000 pending rows) "
                 "drains in 15 minutes of the deployed one-minute sweeps (each within its 60 s timeout); the in-memory AWS answers every call at once "
                 "(plus the latency proxy's delay), moto takes milliseconds of one Python thread per call")
    return out


def table(rows):
    lines = ["| figure | ours | reference | ratio | goal |", "| --- | --- | --- | --- | --- |"]
    for figure, ours, reference, ratio, goal in rows:
        if figure.startswith("sweeper"):
            verdict = "ok" if ratio >= goal else "missed"
            lines.append(f"| {figure} | {ours} | {reference} | {ratio:.2f} of 400 rows/s | >= 1.0 ({verdict}) |")
            continue
        verdict = "ok" if ratio <= goal else "missed"
        if figure.startswith("ingress peak memory"):
            lines.append(f"| {figure} | {ours} | {reference} | {ratio:.2f} of 64 MiB above idle | <= 1.0 ({verdict}) |")
        elif figure.startswith("stripped"):
            lines.append(f"| {figure} | {ours} | {reference} | {ratio:.2f} of 10 MB | <= 1.0 ({verdict}) |")
        else:
            lines.append(f"| {figure} | {ours} | {reference} | {ratio:.2f}x | <= {goal}x ({verdict}) |")
    return "\n".join(lines)


def main():
    global RELEASE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=os.environ.get("MOTO_ENDPOINT", "http://127.0.0.1:4566"),
                        help="moto for the CPU and cold-start parts (drains start their own)")
    parser.add_argument("--listen", default=os.environ.get("INGRESS_LISTEN", "127.0.0.1:9000"),
                        help="address of the ingress the CPU part serves webhooks to")
    parser.add_argument("--webhooks", type=int, default=2000, help="2 KB webhooks of the CPU part")
    parser.add_argument("--cold-starts", type=int, default=7, help="cold starts per binary (median)")
    parser.add_argument("--rows", type=int, default=20000, help="backlog of each in-memory-AWS drain")
    parser.add_argument("--moto-rows", type=int, default=1000, help="backlog of each drain against moto")
    parser.add_argument("--latencies", default="0,5,20,50",
                        help="ms the latency proxy adds to every AWS call of the in-memory drains")
    parser.add_argument("--concurrency", default="1,4,8",
                        help="SWEEP_CONCURRENCY values the drain is measured with")
    parser.add_argument("--lambda-runs", type=int, default=5,
                        help="cold starts per binary and memory size on the Lambda bed (median)")
    parser.add_argument("--lambda-warm", type=int, default=5,
                        help="warm requests after each cold start on the Lambda bed (median)")
    parser.add_argument("--lambda-sizes", default=",".join(map(str, LAMBDA_SIZES)),
                        help="memory sizes (MB) of the Lambda bed; CPU quota memory/1,769 of a core")
    parser.add_argument("--lambda-baseline", type=pathlib.Path,
                        help="another ingress binary measured beside this one on the Lambda bed")
    parser.add_argument("--skip-build", action="store_true", help="measure the release binaries already built")
    parser.add_argument("--bin-dir", type=pathlib.Path, default=ROOT / "target" / "release",
                        help="where the measured binaries are (target/release; target/debug for a quick look)")
    parser.add_argument("--parts", default="verify,cpu,cold,lambda,size,memory,drain",
                        help="measure only these; the table keeps the other parts' last figures")
    args = parser.parse_args()
    RELEASE = args.bin_dir.resolve()
    if not args.skip_build:
        # Two invocations: the functions alone (their real features), then the benchmark tools.
        cargo("build", "--release", "-p", "ingress", "-p", "sweeper")
        cargo("build", "--release", "-p", "bench", "--bins", "-p", "e2e", "--bin", "latency_proxy")
    parts = {
        "verify": verify_rows,
        "cpu": lambda: ingress_cpu_rows(args.endpoint, args.webhooks, args.listen),
        "cold": lambda: cold_start_rows(args.endpoint, args.cold_starts),
        "lambda": lambda: lambda_rows(args.endpoint, args.lambda_runs, args.lambda_warm,
                                      [int(x) for x in args.lambda_sizes.split(",")],
                                      args.lambda_baseline and args.lambda_baseline.resolve()),
        "size": size_rows,
        "memory": lambda: memory_rows(args.endpoint),
        "drain": lambda: drain_rows(args.rows, args.moto_rows, [int(x) for x in args.latencies.split(",")],
                                    [int(x) for x in args.concurrency.split(",")]),
    }
    cache = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    for name in args.parts.split(","):
        cache[name] = {"rows": parts[name](), "notes": list(NOTES)}
        if name == "lambda":
            cache[name]["notes"].append(memory_size_table(LAMBDA_TABLE))
        NOTES.clear()
        CACHE.write_text(json.dumps(cache))
    rows = [tuple(row) for name in parts if name in cache for row in cache[name]["rows"]]
    notes = [note for name in parts if name in cache for note in cache[name]["notes"]]
    text = table(rows) + "".join(f"\n\n{note}" for note in notes)
    stamp = datetime.datetime.now(tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    RESULTS.write_text(f"<!-- written by `make bench` ({stamp}, {os.cpu_count()} CPUs, moto) -->\n{text}\n")
    print(text)
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
