"""Runs numbered cases in child processes so that a crash (a signal, an abort) or a hang is a
failure of the case it happened in, not of the test run.

A child script is run as ``python CHILD WORK FIRST`` and prints, flushed, ``L <total>`` once,
then ``S <i>`` before case ``i`` starts and ``E <i> <verdict>`` when it ends (``ok`` or a
reason). After a crash a new child carries on with the next case.
"""

import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Dict, Tuple


def pump(stream, lines: "queue.Queue") -> None:
    """Forwards the child's lines, then None at its end."""
    for line in stream:
        lines.put(line)
    lines.put(None)


def run_cases(child: Path, work: Path, hang_seconds: float, env: Dict[str, str]) -> Tuple[int, Dict[int, str]]:
    """``(total, {case index: verdict})`` over all cases, restarting the child after a crash."""
    verdicts = {}
    total = None
    first = 0
    while total is None or first < total:
        err_file = tempfile.TemporaryFile("w+")
        proc = subprocess.Popen([sys.executable, str(child), str(work), str(first)], stdout=subprocess.PIPE,
                                stderr=err_file, text=True, env={**os.environ, **env})
        lines: "queue.Queue" = queue.Queue()
        threading.Thread(target=pump, args=(proc.stdout, lines), daemon=True).start()
        started = None
        while True:
            try:
                line = lines.get(timeout=hang_seconds)
            except queue.Empty:
                proc.kill()
                verdicts[started if started is not None else first] = f"HANG (no progress in {hang_seconds} s)"
                started = None
                break
            if line is None:  # the child exited
                break
            kind, rest = line.split(" ", 1)
            if kind == "L":
                total = int(rest)
            elif kind == "S":
                started = int(rest)
            elif kind == "E":
                i, verdict = rest.rstrip("\n").split(" ", 1)
                verdicts[int(i)] = verdict
                started = None
                if int(i) == total - 1:
                    break
        proc.wait(timeout=30)
        err_file.seek(0)
        err = err_file.read()
        err_file.close()
        if started is not None and started not in verdicts:
            verdicts[started] = f"CRASH (exit {proc.returncode}): {err[-300:]}"
        if total is None:
            raise AssertionError(f"the child did not start: {err}")
        first = max(verdicts) + 1 if any(k >= 0 for k in verdicts) else first + 1
        if proc.returncode != 0 and started is None:
            # Died between cases or at exit (say, in a destructor): a failure of the run.
            verdicts[-1 - len([k for k in verdicts if k < 0])] = f"CRASH outside a case (exit {proc.returncode}): {err[-300:]}"
    return total, verdicts
