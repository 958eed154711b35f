"""Load test of the HTTP API: N concurrent clients POST /api/translate for a while.

    .venv/bin/python bench/serve.py                         # 8 clients, 30 s, json, cache off
    .venv/bin/python bench/serve.py --clients 4 --duration 10 --format gif --checkpoint runs/mlsf

Starts `signllm serve` (uvicorn) as a subprocess on a free 127.0.0.1 port, waits for /health,
runs the clients (threads with keep-alive stdlib connections, each cycling through a list of
sentences), stops the server, and prints ONE JSON line: requests/s, latency p50/p95/max (ms),
error count by status, the server's limits and the machine. The server's translation cache is
off by default (--cache-size 0), so every request runs the model.

`--hostile` (default then: 16 clients, 60 s): each client mixes valid requests in every output
format with malformed JSON, wrong types, oversize bodies and texts, odd unicode (lone surrogates,
NUL, right-to-left, emoji) and slow clients that trickle their body; a watcher GETs /health once
a second throughout. Reported: 5xx by status (503 "busy" with Retry-After apart), error bodies
holding a stack trace or a local path, /health failures, and the server's peak RSS. Loopback only
(127.0.0.1) and bounded by --duration.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

SENTENCES = [
    "Hello, how are you?",
    "Good morning.",
    "The weather will be sunny tomorrow.",
    "My name is Anna.",
    "Thank you very much.",
    "Where is the train station?",
    "I am learning sign language.",
    "In the north there will be rain and wind tonight.",
    "Nice to meet you.",
    "See you later.",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(port: int, path: str, timeout: float = 5.0) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def machine() -> dict:
    info = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    return info


def client(port: int, body: dict, offset: int, deadline: float, out: list, timeout: float) -> None:
    """POST until the deadline; append (latency s, status) per request (status 0: no answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    i = offset
    while time.monotonic() < deadline:
        payload = json.dumps({**body, "text": SENTENCES[i % len(SENTENCES)]}).encode()
        i += 1
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/api/translate", payload, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        out.append((time.perf_counter() - t0, status))
    conn.close()


LEAKS = ("Traceback", 'File "', "/tmp/", "/work/", "/home/", "/root/", "site-packages", ".py\"",
         ".py:")  # fmt: skip


def _hostile_request(rng: random.Random, language: str) -> tuple[str, bytes, str]:
    """(kind, body bytes, content type) of one request of the hostile mix."""
    text = rng.choice(SENTENCES)
    kind = rng.choice(["valid", "valid", "valid", "malformed", "types", "oversize_body",
                       "oversize_text", "unicode", "slow"])  # fmt: skip
    fmt = rng.choice(["json", "json", "pose", "bvh", "gif", "mp4"])
    body: object = {"text": text, "language": language, "format": fmt, "max_frames": 40}
    if kind == "malformed":
        raw = json.dumps(body).encode()
        cut = rng.choice([raw[: rng.randrange(1, len(raw))], raw.replace(b":", b"", 1),
                          b"{" * 10_000, b"\xff\xfe" + raw, b"null", b"[]", b""])  # fmt: skip
        return kind, cut, rng.choice(["application/json", "text/plain"])
    if kind == "types":
        key = rng.choice(["text", "language", "format", "max_frames", "mode"])
        body[key] = rng.choice([5, None, ["a"], {"x": 1}, -1, 10**30, 1e308, True, ""])
    elif kind == "oversize_body":
        body["text"] = "a" * 200_000
    elif kind == "oversize_text":
        body["text"] = "hello " * 2_000
    elif kind == "unicode":
        body["text"] = rng.choice(["\ud800 hello", "a\u0000b", "שלום עולם", "😀 👋🏽 " * 20,
                                   "e\u0301" * 50, "\u202e reversed"])  # fmt: skip
    return kind, json.dumps(body).encode("utf-8", "surrogatepass"), "application/json"


def _slow_post(port: int, body: bytes, pause: float, timeout: float) -> tuple[int, bytes]:
    """A client that sends its headers, then its body a few bytes at a time."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        head = (
            f"POST /api/translate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
            f"application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode())
        step = max(1, len(body) // 8)
        for i in range(0, len(body), step):
            sock.sendall(body[i : i + step])
            time.sleep(pause)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.split(b"\r\n\r\n", 1)[-1]


def hostile_client(port: int, language: str, seed: int, deadline: float, out: list) -> None:
    """Append (kind, status, leak or "") per request until the deadline."""
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        kind, body, ctype = _hostile_request(rng, language)
        try:
            if kind == "slow":
                status, data = _slow_post(port, body, 0.25, 60.0)
            else:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                try:
                    conn.request("POST", "/api/translate", body, {"Content-Type": ctype})
                    resp = conn.getresponse()
                    status, data = resp.status, resp.read()
                finally:
                    conn.close()
        except (OSError, http.client.HTTPException):
            status, data = 0, b""
        leak = ""
        if status != 200:
            text = data.decode("utf-8", "replace")
            leak = next((m for m in LEAKS if m in text), "")
        out.append((kind, status, leak, data[:300] if leak else b""))


def _peak_rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def run_hostile(args: argparse.Namespace, port: int, proc: subprocess.Popen, language: str,
                health: dict) -> dict:  # fmt: skip
    results: list[list] = [[] for _ in range(args.clients)]
    health_log: list[tuple[float, int]] = []
    start = time.monotonic()
    deadline = start + args.duration

    def watch() -> None:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                st = conn.getresponse().status
                conn.close()
            except (OSError, http.client.HTTPException):
                st = 0
            health_log.append((time.perf_counter() - t0, st))
            time.sleep(1.0)

    threads = [threading.Thread(target=hostile_client, args=(port, language, k, deadline,
                                                             results[k])) for k in range(args.clients)]  # fmt: skip
    threads.append(threading.Thread(target=watch))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    flat = [r for rs in results for r in rs]
    by_kind: dict[str, Counter] = {}
    for kind, st, _, _ in flat:
        by_kind.setdefault(kind, Counter())[str(st)] += 1
    five = Counter(st for _, st, _, _ in flat if st >= 500)
    leaks = [(k, st, m, b.decode("utf-8", "replace")) for k, st, m, b in flat if m]
    return {
        "bench": "serve-hostile",
        "clients": args.clients,
        "duration_s": round(elapsed, 2),
        "language": language,
        "requests": len(flat),
        "status_by_kind": {k: dict(sorted(v.items())) for k, v in sorted(by_kind.items())},
        "5xx": {str(k): v for k, v in sorted(five.items())},
        "5xx_not_busy": sum(v for k, v in five.items() if k != 503),
        "no_answer": sum(1 for _, st, _, _ in flat if st == 0),
        "leaky_error_bodies": len(leaks),
        "leak_examples": leaks[:3],
        "health_checks": len(health_log),
        "health_failures": sum(1 for _, st in health_log if st != 200),
        "health_max_ms": round(max((t for t, _ in health_log), default=0) * 1000, 1),
        "server_peak_rss_mib": _peak_rss_mib(proc.pid),
        "server": {"limits": health.get("limits")},
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, help="default 8 (16 with --hostile)")
    ap.add_argument("--duration", type=float, help="seconds of load (default 30; 60 hostile)")
    ap.add_argument("--hostile", action="store_true", help="the hostile mix (see above)")
    ap.add_argument("--format", default="json", choices=["json", "pose", "mp4", "gif", "bvh"])
    ap.add_argument("--language", help="default: the first language the model produces")
    ap.add_argument("--mode", default="auto")
    ap.add_argument("--max-frames", type=int, help="per request (default: the server's cap)")
    ap.add_argument("--checkpoint")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--max-concurrent", type=int, default=4, help="server limit (its default: 4)")
    ap.add_argument("--queue-timeout", type=float, default=10.0, help="server queue wait (10)")
    ap.add_argument("--cache-size", type=int, default=0, help="server cache (0: every request "
                    "runs the model)")  # fmt: skip
    ap.add_argument("--startup-timeout", type=float, default=180.0)
    args = ap.parse_args(argv)
    args.clients = args.clients or (16 if args.hostile else 8)
    args.duration = args.duration or (60.0 if args.hostile else 30.0)

    port = free_port()
    cmd = [
        sys.executable, "-m", "signllm", "serve",
        "--port", str(port), "--log-level", "warning", "--device", args.device,
        "--max-concurrent", str(args.max_concurrent), "--queue-timeout", str(args.queue_timeout),
        "--cache-size", str(args.cache_size),
    ]  # fmt: skip
    if args.checkpoint:
        cmd += ["--checkpoint", args.checkpoint]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        t0 = time.monotonic()
        health = None
        while time.monotonic() - t0 < args.startup_timeout and proc.poll() is None:
            try:
                health = get_json(port, "/health")
                if health.get("model_loaded"):
                    break
            except (OSError, ValueError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        startup_s = time.monotonic() - t0
        if not health or not health.get("model_loaded"):
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-3000:])
            print("bench/serve.py: the server did not start", file=sys.stderr)
            return 1
        language = args.language
        if not language:
            langs = get_json(port, "/api/languages")["languages"]
            usable = [x for x in langs if x["model"]] or [x for x in langs if x["fingerspelling"]]
            language = usable[0]["code"]
        if args.hostile:
            print(json.dumps(run_hostile(args, port, proc, language, health)))
            return 0
        body: dict = {"language": language, "mode": args.mode, "format": args.format}
        if args.max_frames:
            body["max_frames"] = args.max_frames
        # one request first: not timed (lazy initialisation, first-call allocations)
        client(port, body, 0, time.monotonic() + 1e-9, [], 300.0)

        results: list[list[tuple[float, int]]] = [[] for _ in range(args.clients)]
        start = time.monotonic()
        deadline = start + args.duration
        threads = [
            threading.Thread(target=client, args=(port, body, k, deadline, results[k], 300.0))
            for k in range(args.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start  # includes the last requests' tails
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

    flat = [r for rs in results for r in rs]
    ok = np.array([lat for lat, st in flat if st == 200]) * 1000.0
    statuses = Counter(st for _, st in flat)

    def pct(q: float) -> float | None:
        return round(float(np.percentile(ok, q)), 1) if ok.size else None

    latency = {"p50": pct(50), "p95": pct(95)}
    latency["max"] = round(float(ok.max()), 1) if ok.size else None
    latency["mean"] = round(float(ok.mean()), 1) if ok.size else None
    settings = {
        "clients": args.clients,
        "format": args.format,
        "language": language,
        "cache_size": args.cache_size,
        "checkpoint": args.checkpoint,
    }
    measured = {
        "duration_s": round(elapsed, 2),
        "requests": len(flat),
        "ok": int(ok.size),
        "errors": len(flat) - int(ok.size),
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "requests_per_s": round(ok.size / elapsed, 3),
        "latency_ms": latency,
        "server_startup_s": round(startup_s, 2),
    }
    settings["server_limits"] = health.get("limits")
    report = {"bench": "serve", "machine": machine(), "settings": settings}
    # quoted: none, every figure is measured in this run
    print(json.dumps({**report, "measured": measured, "quoted": {}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
