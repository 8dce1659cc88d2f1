"""Reading the tier's result files, for report.py and the scripts beside it: a missing file is a
default, a malformed JSON file a problem named with its path."""
import json


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
