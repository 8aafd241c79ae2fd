#!/usr/bin/env python3
"""Drive a program through a pseudo-terminal, for the shell's specs.

    pty_run.py SCRIPT.json  ->  one JSON object on stdout

SCRIPT: {"argv": [...], "env": {...}, "cols": 100, "rows": 30,
         "steps": [{"send": "text"}, {"expect": "regex", "timeout": 5},
                   {"sleep": 0.2}, {"run": "sh command"}], "end_timeout": 5}

Each expect is searched in what the program wrote since the previous
match, with terminal escape sequences and carriage returns taken out.
"send" text is written as typed (\\t is Tab, \\x03 is Ctrl-C). After the
steps, the terminal is hung up unless the program already ended; the
answer says {"ok", "failed": step index or null, "waited": [seconds per
expect], "exit": status, "transcript": the cleaned text}.
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


def main():
    with open(sys.argv[1]) as f:
        script = json.load(f)
    env = dict(os.environ)
    env.update(script.get("env", {}))
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvpe(script["argv"][0], script["argv"], env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ,
                struct.pack("HHHH", script.get("rows", 30), script.get("cols", 100), 0, 0))
    raw = b""
    cursor = 0  # in the cleaned text: where the next expect starts
    waited = []
    failed = None
    status = None

    def pump(timeout):
        nonlocal raw
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        raw += data
        return True

    alive = True
    for i, step in enumerate(script["steps"]):
        if "send" in step:
            os.write(fd, step["send"].encode())
        elif "sleep" in step:
            end = time.monotonic() + step["sleep"]
            while alive and time.monotonic() < end:
                alive = pump(max(0, end - time.monotonic()))
        elif "run" in step:
            subprocess.run(step["run"], shell=True, stdout=subprocess.DEVNULL)
        elif "expect" in step:
            pattern = re.compile(step["expect"])
            start = time.monotonic()
            end = start + step.get("timeout", 5)
            found = None
            while True:
                found = pattern.search(clean(raw), cursor)
                if found or not alive or time.monotonic() >= end:
                    break
                alive = pump(min(0.05, max(0, end - time.monotonic())))
            if not found:
                found = pattern.search(clean(raw), cursor)
            if not found:
                failed = i
                break
            waited.append(time.monotonic() - start)
            cursor = found.end()
    # let the program end by itself (it was sent its last line), else hang up
    end = time.monotonic() + script.get("end_timeout", 5)
    while time.monotonic() < end:
        if alive:
            alive = pump(0.05)
        else:
            time.sleep(0.01)
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
    if status is None:
        os.kill(pid, signal.SIGHUP)
        end = time.monotonic() + 1
        while status is None and time.monotonic() < end:
            time.sleep(0.01)
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
        if status is None:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
    while alive and pump(0):
        pass
    os.close(fd)
    print(json.dumps({
        "ok": failed is None, "failed": failed, "waited": waited,
        "exit": os.waitstatus_to_exitcode(status), "transcript": clean(raw),
    }))


if __name__ == "__main__":
    main()
