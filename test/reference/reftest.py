"""Shared helpers for the reference tests: locating dlc's build, skipping
when an optional package is missing, running dlc commands."""
import importlib
import os
import subprocess
import sys

SKIP = 77


def require(*modules):
    """Imports and returns the modules, or exits with the skip code."""
    found = []
    for name in modules:
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            print(f"SKIPPED: Python package '{name}' is missing; "
                  "run scripts/reference-env.sh")
            sys.exit(SKIP)
    return found[0] if len(found) == 1 else found


def build_dir():
    return os.environ.get("DLC_BUILD_DIR") or os.path.join(source_dir(), "build")


def source_dir():
    return os.environ.get("DLC_SOURCE_DIR") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def dlc(*args, check=True):
    """Runs build/tools/dlc with ARGS; returns the completed process."""
    exe = os.path.join(build_dir(), "tools", "dlc")
    # A sanitizer build preloads the ASan runtime into python (see
    # test/CMakeLists.txt); the dlc binary links its own.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    proc = subprocess.run([exe, *args], capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"dlc {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc
