"""A bounded HTTP load generator (standard library only).

Used by bench/scale_1_vs_3.py and by the Molecule scenario ``scale``. Each
thread keeps one HTTP/1.1 keep-alive connection and sends requests back to
back until the run is stopped, its time is up or ``max_requests`` are sent.
A failure is any answer other than the expected status, a refused or reset
connection, or a time-out; each is counted and the first ones are kept.
Point it only at 127.0.0.0/8 or at containers the caller created.
"""
import http.client
import json
import threading
import time


class Load(object):
    def __init__(self, host, port, path="/health", method="GET", body=None, headers=None,
                 threads=4, duration=300.0, max_requests=200000, timeout=10.0, expect=(200,)):
        self.host, self.port, self.path, self.method = host, port, path, method
        self.body = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        self.headers = dict(headers or {})
        if self.body is not None:
            self.headers.setdefault("Content-Type", "application/json")
        self.threads, self.duration, self.max_requests = threads, duration, max_requests
        self.timeout, self.expect = timeout, tuple(expect)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = []
        self.latencies = []
        self.failures = []
        self.failed = 0
        self.sent = 0
        self.started = self.ended = None

    def _take(self):
        with self._lock:
            if self.sent >= self.max_requests:
                return False
            self.sent += 1
            return True

    def _run(self, deadline):
        conn = None
        while not self._stop.is_set() and time.monotonic() < deadline and self._take():
            start = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                conn.request(self.method, self.path, body=self.body, headers=self.headers)
                response = conn.getresponse()
                response.read()
                ok = response.status in self.expect
                why = "status %d" % response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                ok, why = False, "%s: %s" % (type(exc).__name__, exc)
                if conn is not None:
                    conn.close()
                conn = None
            elapsed = time.monotonic() - start
            with self._lock:
                self.latencies.append(elapsed)
                if not ok:
                    self.failed += 1
                    if len(self.failures) < 20:
                        self.failures.append(why)
        if conn is not None:
            conn.close()

    def start(self):
        self.started = time.monotonic()
        deadline = self.started + self.duration
        for _index in range(self.threads):
            worker = threading.Thread(target=self._run, args=(deadline,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self):
        self._stop.set()
        for worker in self._workers:
            worker.join(self.timeout + 5)
        self.ended = time.monotonic()
        return self.summary()

    def run(self):
        """Start, wait until the time or the request budget is used up, return the summary."""
        self.start()
        for worker in self._workers:
            worker.join()
        self.ended = time.monotonic()
        return self.summary()

    def summary(self):
        with self._lock:
            lat = sorted(self.latencies)
            seconds = max((self.ended or time.monotonic()) - self.started, 1e-9)
            return {
                "requests": len(lat),
                "failed": self.failed,
                "failures": list(self.failures),
                "seconds": round(seconds, 2),
                "rps": round(len(lat) / seconds, 1),
                "p50_ms": round(percentile(lat, 0.50) * 1000, 2) if lat else None,
                "p95_ms": round(percentile(lat, 0.95) * 1000, 2) if lat else None,
            }


def percentile(sorted_values, q):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, int(round(q * len(sorted_values) + 0.5)) - 1))
    return sorted_values[rank]
