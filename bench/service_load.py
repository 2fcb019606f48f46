"""Load test of the HTTP API: concurrent clients posting small PNG drawings over loopback.

Starts `python -m digitclf serve --workers <CPU count>` itself on a free port of 127.0.0.1,
warms it up, sends --requests POST /v1/digits (raw image/png bodies: 256 MNIST test digits
drawn on a transparent 280x280 canvas, the dashboard canvas's size, ~10 kB each) from
--concurrency clients, each waiting for its answer before sending the next, and prints
requests/s, latency percentiles, errors and the server's CPU time per request. Bounded: it
stops sending after --time-limit seconds. Exit status 1 when a target is missed.

--slow-clients N adds N clients that hold connections open throughout, sending a byte a
second: half never finish their headers, half their body (each connects again when the
server answers or closes); the figures are still those of the normal clients, and what the
server did to the slow ones is counted.

    python bench/service_load.py [--requests 3000] [--concurrency 16] [--workers N] [--model NAME]
                                 [--slow-clients 64] [--header-timeout S] [--body-timeout S]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
import numpy as np

from digitclf.training import synth
from digitclf.training.data import load_mnist


def drawings(count: int) -> list[bytes]:
    """PNGs of MNIST test digits drawn on a transparent 280x280 canvas (ink in the alpha channel)."""
    return [synth.canvas_png(synth.render(digit)) for digit in load_mnist("test")[0][:count]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cpu_seconds(pid: int) -> float:
    """CPU time used so far by the server process and its worker processes (Linux /proc)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def start_server(port: int, options: list[str], log) -> subprocess.Popen:
    command = [sys.executable, "-m", "digitclf", "serve", "--port", str(port), *options]
    return subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(port: int, server: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def load(port: int, bodies: list[bytes], requests: int, concurrency: int,
         time_limit: float) -> tuple[list[float], int, float]:
    """Latencies (s) of the requests sent, how many failed, and the wall time.

    One thread per client, each with its own keep-alive connection (the standard library's
    client: httpx costs more CPU per request than the server does on a 2-core machine).
    """
    latencies: list[float] = []
    errors = 0
    tickets = iter(range(requests))
    lock = threading.Lock()
    deadline = time.monotonic() + time_limit
    headers = {"Content-Type": "image/png"}

    def client() -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                ticket = next(tickets, None)
            if ticket is None:
                break
            start = time.perf_counter()
            try:
                connection.request("POST", "/v1/digits", bodies[ticket % len(bodies)], headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                ok = False
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                errors += not ok
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - start


def slow_clients(port: int, count: int, stop: threading.Event) -> tuple[list[threading.Thread], collections.Counter]:
    """Started threads of `count` slow clients (see the module's doc), and the counts of how
    their connections ended: the answer's status, or 'closed' without one."""
    ended: collections.Counter = collections.Counter()
    lock = threading.Lock()

    def end(kind: str) -> None:
        with lock:
            ended[kind] += 1
    head = b"POST /v1/digits HTTP/1.1\r\nHost: bench\r\nContent-Type: image/png\r\n"

    def client(index: int) -> None:
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                    if index % 2:  # complete headers, then a body that never ends
                        sock.sendall(head + b"Content-Length: 1000000\r\n\r\n")
                        dribble = b"\0" * 1_000_000
                    else:  # headers that never end
                        dribble = head + b"X-Padding: " + b"a" * 1_000_000
                    sock.settimeout(1.0)
                    for byte in dribble:
                        if stop.is_set():
                            break
                        sock.sendall(bytes([byte]))
                        try:
                            answer = sock.recv(4096)
                        except TimeoutError:
                            continue
                        end(answer[9:12].decode() if answer else "closed")
                        break
            except OSError:
                end("closed")

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, ended


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=300, help="requests sent first, not counted")
    parser.add_argument("--model", help="the server's --model (default: the active model)")
    parser.add_argument("--workers", default=str(os.cpu_count()), help="the server's --workers (default: CPU count)")
    parser.add_argument("--threads", help="the server's --threads")
    parser.add_argument("--header-timeout", help="the server's --header-timeout")
    parser.add_argument("--body-timeout", help="the server's --body-timeout")
    parser.add_argument("--slow-clients", type=int, default=0,
                        help="clients sending a byte a second throughout (see above; default: none)")
    parser.add_argument("--time-limit", type=float, default=120.0, help="stop sending after this many seconds")
    parser.add_argument("--min-rps", type=float, default=300.0, help="target: requests per second")
    parser.add_argument("--max-p99-ms", type=float, default=50.0, help="target: 99th percentile latency")
    args = parser.parse_args()

    bodies = drawings(256)
    load_before = os.getloadavg()[0]
    port = free_port()
    with tempfile.TemporaryFile("w+") as log:
        options = [f"--{k.replace('_', '-')}={v}" for k in ("model", "workers", "threads", "header_timeout",
                                                              "body_timeout") if (v := getattr(args, k))]
        server = start_server(port, options, log)
        stop = threading.Event()
        slow: list[threading.Thread] = []
        try:
            wait_ready(port, server)
            slow, ended = slow_clients(port, args.slow_clients, stop)
            load(port, bodies, args.warmup, args.concurrency, args.time_limit)
            cpu_before = server_cpu_seconds(server.pid)
            latencies, errors, wall = load(port, bodies, args.requests, args.concurrency, args.time_limit)
            server_cpu = server_cpu_seconds(server.pid) - cpu_before
        except RuntimeError:
            log.seek(0)
            print(log.read(), file=sys.stderr)
            raise
        finally:
            stop.set()
            for thread in slow:  # before the server goes: its going would end their connections
                thread.join(timeout=5)
            server.terminate()
            server.wait(timeout=30)

    ms = np.array(latencies) * 1000
    rps = len(latencies) / wall
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    print(f"{len(latencies)} requests ({np.mean([len(b) for b in bodies]) / 1000:.1f} kB PNGs), "
          f"{args.concurrency} concurrent clients, serve {' '.join(options)}, {wall:.1f} s; "
          f"{os.cpu_count()} CPUs, load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine skews this)")
    print(f"requests/s {rps:.0f}   p50 {p50:.1f} ms   p90 {p90:.1f} ms   p99 {p99:.1f} ms   "
          f"max {ms.max():.1f} ms   errors {errors}")
    print(f"server CPU time per request {1000 * server_cpu / len(latencies):.2f} ms")
    if args.slow_clients:
        print(f"{args.slow_clients} slow clients meanwhile (a byte a second); their connections ended: "
              + (", ".join(f"{kind} {n}" for kind, n in sorted(ended.items())) or "none yet (still held)"))
    met = rps >= args.min_rps and p99 <= args.max_p99_ms and errors == 0 and len(latencies) == args.requests
    print(f"target (>= {args.min_rps:.0f} requests/s, p99 <= {args.max_p99_ms:.0f} ms, no errors): "
          f"{'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
