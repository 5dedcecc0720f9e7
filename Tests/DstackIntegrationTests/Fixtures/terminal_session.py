"""Runs a command on a pseudo-terminal, as a person at a terminal would.

Usage: terminal_session.py PROMPT INPUT COMMAND [ARGS...]

Waits until the command prints PROMPT, then types INPUT; answers cursor-position
queries (ESC [6n) as a terminal does; prints everything the command wrote and exits
with its status. Gives up after 30 seconds.
"""
import os
import pty
import select
import sys
import time

prompt, typed, command = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)

output, sent, deadline = b"", False, time.time() + 30
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if not ready:
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
        os.write(fd, typed)
        sent = True
else:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(output)
sys.exit(os.waitstatus_to_exitcode(status))
