"""Reading the tier's result files, for report.py and the scripts beside it: a missing file is a
default, a malformed JSON file a problem named with its path."""
import json
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def shown_path(path):
    """`path` as the findings print it: relative to the checkout when inside it (so findings
    committed from one clone name no other clone's directory), else unchanged."""
    if not isinstance(path, str) or not os.path.isabs(path):
        return path
    rel = os.path.relpath(path, REPO)
    return path if rel.startswith("..") else rel


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def load(path, problems, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f"{path}: {e}")
        return default


def load_thresholds(path):
    t = {}
    for line in read(path).splitlines():
        line = line.split("#")[0].strip()
        if line:
            k, v = (x.strip() for x in line.split("="))
            t[k] = float(v)
    return t
