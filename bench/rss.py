"""Peak resident memory of a command, as the benchmark scripts measure it.

getrusage's ru_maxrss survives exec: a child forked straight from a script
that holds torch would report at least the script's own size. So a small
launcher (python3 -S, a few MiB) starts the command and reports its peak.
"""
import subprocess
import sys

LAUNCHER = """
import os, sys
pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print(f"\\npeak-rss-kib {usage.ru_maxrss} exit {os.waitstatus_to_exitcode(status)}")
"""


def run_measured(cmd, env=None):
    """Runs CMD to completion; returns (exit code, stdout, stderr, peak MiB)."""
    proc = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *cmd], env=env,
                          capture_output=True, text=True)
    out, _, tail = proc.stdout.rpartition("\npeak-rss-kib ")
    fields = tail.split()
    if proc.returncode != 0 or len(fields) != 3:
        raise RuntimeError(f"could not run {' '.join(cmd)}:\n{proc.stdout}\n{proc.stderr}")
    return int(fields[2]), out, proc.stderr, int(fields[0]) / 1024.0


def peak_mib(cmd, env=None):
    """Runs CMD, which must succeed, and returns its peak resident memory in MiB."""
    code, out, err, mib = run_measured(cmd, env)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{out}\n{err}")
    return mib
