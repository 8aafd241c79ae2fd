#!/usr/bin/env python3
"""Drive a program through a pseudo-terminal, for the shell's specs.

    pty_run.py SCRIPT.json  ->  one JSON object on stdout

SCRIPT: {"argv": [...], "env": {...}, "cols": 100, "rows": 30,
         "steps": [{"send": "text"}, {"expect": "regex", "timeout": 5},
                   {"sleep": 0.2}, {"run": "sh command"}],
         "end_timeout": 5, "deadline": 30}

Each expect is searched in what the program wrote since the previous
match, with terminal escape sequences and carriage returns taken out.
"send" text is written as typed (\\t is Tab, \\x03 is Ctrl-C). After the
steps, the program has end_timeout seconds to end by itself (it was sent
its last line); then, or at once when a step was not met, the terminal is
hung up, and a second later the program's process group is killed.
"deadline" caps the whole run, whatever the program does: once it passes,
the process group is killed and the run fails, so that a program that
hangs cannot stall the specs.

The answer: {"ok", "failed": step index or null, "timed_out": the
deadline passed, "hung_up": the program had not ended by itself,
"waited": [seconds per expect met], "exit": status (negative: the
signal), "transcript": the cleaned text, "raw": what the terminal
received, escapes included}.
"""
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import fcntl
import time

ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\x1b\][^\x07]*\x07|\r|\x07")


def clean(raw):
    return ESCAPES.sub(b"", raw).decode("utf-8", "replace")


class Run:
    def __init__(self, script):
        env = dict(os.environ)
        env.update(script.get("env", {}))
        self.deadline = time.monotonic() + script.get("deadline", 30)
        self.raw = b""
        self.open = True  # the terminal has not reported its end
        self.status = None
        self.hung_up = False
        # the child is a session leader (pty.fork): its pid is its group
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execvpe(script["argv"][0], script["argv"], env)
            finally:
                os._exit(127)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", script.get("rows", 30), script.get("cols", 100), 0, 0))

    def left(self, until=None):
        end = self.deadline if until is None else min(until, self.deadline)
        return max(0.0, end - time.monotonic())

    def pump(self, timeout):
        """Reads what is there within timeout: "data", "idle" or "eof"."""
        if not self.open:
            return "eof"
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return "idle"
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            data = b""
        if not data:
            self.open = False
            return "eof"
        self.raw += data
        return "data"

    def reap(self):
        if self.status is None:
            done, st = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.status = st
        return self.status is not None

    def signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def expect(self, pattern, timeout):
        end = time.monotonic() + timeout
        while True:
            found = pattern.search(clean(self.raw), self.cursor)
            if found or self.left(end) == 0 or self.pump(min(0.05, self.left(end))) == "eof":
                return found or pattern.search(clean(self.raw), self.cursor)

    def steps(self, steps):
        """Runs the steps; returns the index of the first not met, or None."""
        self.cursor = 0  # in the cleaned text: where the next expect starts
        self.waited = []
        for i, step in enumerate(steps):
            if "send" in step:
                os.write(self.fd, step["send"].encode())
            elif "sleep" in step:
                end = time.monotonic() + step["sleep"]
                while self.left(end) > 0:
                    self.pump(self.left(end))
            elif "run" in step:
                try:
                    subprocess.run(step["run"], shell=True, stdout=subprocess.DEVNULL, timeout=self.left())
                except subprocess.TimeoutExpired:
                    return i
            elif "expect" in step:
                start = time.monotonic()
                found = self.expect(re.compile(step["expect"]), step.get("timeout", 5))
                if not found:
                    return i
                self.waited.append(time.monotonic() - start)
                self.cursor = found.end()
            if self.left() == 0:
                return i
        return None

    def finish(self, grace):
        """Lets the program end within grace seconds, else hangs up, then kills."""
        end = time.monotonic() + grace
        while not self.reap() and self.left(end) > 0:
            if self.pump(0.05) == "eof":
                time.sleep(0.01)
        if not self.reap():
            self.hung_up = True
            self.signal_group(signal.SIGHUP)
            end = time.monotonic() + 1
            while not self.reap() and time.monotonic() < end:
                self.pump(0.01)
        if not self.reap():
            self.signal_group(signal.SIGKILL)
            _, self.status = os.waitpid(self.pid, 0)
        # What is left to read; a process that outlived the program may
        # hold the terminal open: stop at the first pause.
        while self.pump(0.1) == "data" and self.left() > 0:
            pass
        os.close(self.fd)


def main():
    with open(sys.argv[1]) as f:
        script = json.load(f)
    run = Run(script)
    failed = run.steps(script["steps"])
    run.finish(0 if failed is not None else script.get("end_timeout", 5))
    timed_out = run.left() == 0
    print(json.dumps({
        "ok": failed is None and not timed_out, "failed": failed, "timed_out": timed_out,
        "hung_up": run.hung_up, "waited": run.waited, "exit": os.waitstatus_to_exitcode(run.status),
        "transcript": clean(run.raw), "raw": run.raw.decode("utf-8", "replace"),
    }))


if __name__ == "__main__":
    main()
