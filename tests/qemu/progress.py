# SPDX-License-Identifier: MIT
"""Live progress for long jobs (the soak, the demo, the bench's boots).

A Progress prints one plain line at most every `every` seconds, from a
ticker thread, whether or not the job printed anything: what is done, what
is left, the time so far and an estimate of the time left. Plain lines,
flushed, the same on a terminal and in a CI log (no carriage returns, no
cursor movement). The job calls update() when it learns something new;
note() lines replace the "what is done" text for jobs that count stages.

    p = Progress("soak", "commands", total=6300000)
    p.start()
    ...  p.update(done=1234)  ...
    p.stop()

The estimate is the rate so far (done / elapsed since the first unit)
applied to what is left; before that, or when the units differ in length
(by_rate=False), it is the caller's guess for the whole job (estimate_s,
e.g. the last run's time) less the time so far, or unknown.
"""

import sys
import threading
import time


def duration(s):
    """12 s, 3 min 05 s, 1 h 02 min."""
    s = max(0, int(round(s)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    def __init__(self, job, unit, total=None, every=5.0, out=None, estimate_s=None, by_rate=True, counts=None):
        self.counts = counts               # a callable giving the "what is done" text instead of done/total
        self.by_rate = by_rate             # estimate from the rate (units of unequal length: no)
        self.job, self.unit, self.total, self.every = job, unit, total, every
        self.out = out or sys.stdout
        self.estimate_s = estimate_s       # the whole job's expected length, when guessed
        self.done = 0
        self.stage = None                  # free text: what runs now
        self.t0 = time.monotonic()
        self.t_first = None                # when the first unit was done (the rate starts there)
        self.done_first = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = None
        self.quiet_since = time.monotonic()   # the last line anyone printed

    def start(self):
        self.t0 = time.monotonic()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._thread.start()
        return self

    def stop(self, final=False):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        if final:
            self.print_line()

    def update(self, done=None, total=None, stage=None):
        with self._lock:
            if total is not None:
                self.total = total
            if done is not None:
                if self.t_first is None and done > 0:
                    # The rate counts from the first report of progress:
                    # the time before it (boot) is not part of the work.
                    self.t_first, self.done_first = time.monotonic(), done
                self.done = done
            if stage is not None:
                self.stage = stage

    def begin(self):
        """The counted work starts now (the rate counts from here, not
        from the boot before it)."""
        with self._lock:
            self.t_first, self.done_first = time.monotonic(), self.done

    def heard(self):
        """The job printed something: the next progress line comes
        `every` seconds from now (a job whose own output streams calls this
        on each line, so the ticker fills only its silences)."""
        self.quiet_since = time.monotonic()

    def line(self):
        with self._lock:
            now = time.monotonic()
            el = now - self.t0
            parts = []
            if self.counts:
                parts.append(self.counts())
            elif self.total:
                left = max(0, self.total - self.done)
                parts.append(f"{self.done}/{self.total} {self.unit} done, {left} left")
            elif self.done:
                parts.append(f"{self.done} {self.unit} done")
            if self.stage:
                parts.append(self.stage)
            parts.append(f"{duration(el)} elapsed")
            est = None
            if self.by_rate and self.total and self.t_first is not None and self.done > self.done_first:
                rate = (self.done - self.done_first) / max(1e-6, now - self.t_first)
                est = (self.total - self.done) / rate
                parts.append(f"about {duration(est)} left" if self.counts else
                             f"about {duration(est)} left at {rate:.0f} {self.unit}/s")
            elif self.estimate_s:
                est = max(0.0, self.estimate_s - el)
                parts.append(f"about {duration(est)} left (estimate)" if est > 0 else
                             "taking longer than estimated")
            else:
                parts.append("time left unknown yet")
            return f"{self.job}: " + "; ".join(parts)

    def print_line(self):
        self.out.write(self.line() + "\n")
        self.out.flush()
        self.heard()

    def _tick(self):
        while not self._stop.wait(max(0.2, min(self.every, 1.0))):
            since = time.monotonic() - self.quiet_since
            if since >= self.every:
                self.print_line()
