"""Types keys into a program under a pseudo-terminal, each once the program
is ready for it, and prints everything the program wrote (for
tests/cli_shell_test.ts).

Usage: python3 _pty_keys.py '<json steps>' program args...
Each step is [keys, wait]: `keys` is written, then the output is read until it
contains `wait` again (counted from the step's start; "" waits for 0.5 s of
quiet). Exit status: the program's, or 124 if it did not end in 20 s.
"""

import json, os, pty, select, sys, time

steps = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])

out = b""


def read_until(pred, timeout):
    global out
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                d = os.read(fd, 65536)
            except OSError:
                return False
            if not d:
                return False
            out += d
            if pred():
                return True
    return pred()


def quiet(seconds):
    global out
    while True:
        r, _, _ = select.select([fd], [], [], seconds)
        if not r:
            return True
        try:
            d = os.read(fd, 65536)
        except OSError:
            return False
        if not d:
            return False
        out += d


alive = True
for keys, wait in steps:
    start = len(out)
    if keys:
        os.write(fd, keys.encode())
    if wait:
        w = wait.encode()
        alive = read_until(lambda: w in out[start:], 20)
    else:
        alive = quiet(0.5)
    if not alive:
        break
read_until(lambda: False, 0 if not alive else 2)
status = 124
for _ in range(200):
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        status = os.waitstatus_to_exitcode(st)
        break
    time.sleep(0.1)
else:
    os.kill(pid, 9)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(status)
