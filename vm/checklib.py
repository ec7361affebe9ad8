"""What the host-side checkers of vm/ share (check-e2e, check-fanotify, check-monitor, check-soak,
which find it beside themselves): one verdict line per check, and the tally their exit status
and summary come from."""
import os

failures = []      # "SCENARIO: WHAT DETAIL" of every failed check
checks_made = [0]  # a list, so that `from checklib import checks_made` sees the count grow


def check(scenario, what, ok, detail=""):
    """Prints `ok   SCENARIO: WHAT (DETAIL)` or `FAIL ...`; returns ok."""
    checks_made[0] += 1
    print(f"{'ok  ' if ok else 'FAIL'} {scenario}: {what}" + (f" ({detail})" if detail else ""))
    if not ok:
        failures.append(f"{scenario}: {what} {detail}")
    return ok


def read_output(out, scenario, name, default=None):
    """The text of OUT/SCENARIO/NAME that the guest wrote, or default when it is missing."""
    path = os.path.join(out, scenario, name)
    if not os.path.exists(path):
        return default
    with open(path, errors="replace") as f:
        return f.read()
