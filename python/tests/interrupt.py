"""Runs a call in a child Python and presses Ctrl-C (SIGINT) while it is under way: the tests
of calls that must stop promptly on Ctrl-C and leave the store as it was share this harness."""

import signal
import subprocess
import sys
import textwrap
import time
from typing import Callable, Tuple


def interrupt_child(setup: str, call: str, arg: str, under_way: Callable[[], bool]) -> Tuple[str, float]:
    """Runs ``setup`` then ``call`` (Python source; ``sys.argv[1]`` is ``arg``) in a child,
    sends SIGINT once ``under_way()`` is true (polled; 60 s at most), and returns the child's
    verdict (``interrupted`` if the call raised KeyboardInterrupt, ``finished`` if it
    returned, else its stderr) and the seconds from the signal to the child's exit."""
    source = textwrap.dedent(setup) + textwrap.dedent(f"""
        print("go", flush=True)
        try:
            {call}
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
        else:
            print("finished", file=sys.stderr)
        """)
    child = subprocess.Popen([sys.executable, "-c", source, arg],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "go"
    deadline = time.monotonic() + 60
    while not under_way() and time.monotonic() < deadline:
        time.sleep(0.001)
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    return err.strip(), time.monotonic() - sent
