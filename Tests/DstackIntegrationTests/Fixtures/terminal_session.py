"""Runs a command on a pseudo-terminal, as a person at a terminal would.

Usage: terminal_session.py PROMPT INPUT COMMAND [ARGS...]

Waits until the command prints PROMPT, then types INPUT (Ctrl-C is "\x03"), or sends
the signal INPUT names ("signal:TERM") to the command alone; several inputs joined by
"+" ("signal:TERM+signal:TERM") are given a second apart; answers cursor-position
queries (ESC [6n) as a terminal does; prints everything the command wrote and exits
with its status (128 + N when signal N ended it). Gives up after TERMINAL_SESSION_SECONDS
(default 30) seconds.
"""
import os
import pty
import select
import signal
import sys
import time

prompt, typed, command = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)

output, sent, status = b"", False, None
deadline = time.time() + float(os.environ.get("TERMINAL_SESSION_SECONDS", "30"))
while time.time() < deadline:
    # Once the command has ended, what it left running may hold the terminal open: stop
    # when nothing more comes.
    if sent and status is None:
        ended, code = os.waitpid(pid, os.WNOHANG)
        status = code if ended else None
    ready, _, _ = select.select([fd], [], [], 0.2)
    if not ready:
        if status is not None:
            break
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    output += data
    if b"\x1b[6n" in data:
        os.write(fd, b"\x1b[1;1R")
    if not sent and output.replace(b"\x1b[6n", b"").rstrip().endswith(prompt.rstrip()):
        for index, each in enumerate(typed.split(b"+")):
            if index:
                time.sleep(1)
            if each.startswith(b"signal:"):
                os.kill(pid, getattr(signal, "SIG" + each[7:].decode()))
            else:
                os.write(fd, each)
        sent = True
else:
    if status is None:
        os.kill(pid, 9)
if status is None:
    _, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(output)
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)
