"""apiward's JSON verdicts beside Python's json module, file by file.

    json_differential.py JSON_VERDICT DIR

JSON_VERDICT is the json_verdict tool (tests/unit/json_verdict.c), which
prints apiward's verdict on each file; DIR is JSONTestSuite's
test_parsing folder. Python is made as strict as the RFC allows a reader
to be, independently of apiward's code:

- the bytes are decoded as UTF-8 strictly first (json.loads would take
  str, so invalid UTF-8 would otherwise never reach it);
- object_pairs_hook refuses a repeated member name;
- parse_constant refuses NaN, Infinity and -Infinity;
- every decoded string and name is checked for a lone surrogate, which
  Python's json lets through from a \\uD800 escape;
- running out of recursion depth is a refusal.

Every file where the two disagree must be in DISAGREEMENTS below, with
the reason; a disagreement not in the table, or an entry of the table
that no longer disagrees, fails the test. Run with Debian's
/usr/bin/python3 (standard library only).
"""

import json
import os
import subprocess
import sys

# file -> why apiward's verdict differs from strict Python's.
DISAGREEMENTS = {
    # Python reads a number that overflows a double as infinity; apiward
    # refuses it, since readers would see infinity, an error or an
    # arbitrary big number (docs/json.md).
    "i_number_huge_exp.json": "overflow read as inf by Python; apiward "
                              "refuses it (and it is over max_number)",
    "i_number_neg_int_huge_exp.json": "overflow read as -inf by Python",
    "i_number_pos_double_huge_exp.json": "overflow read as inf by Python",
    "i_number_real_neg_overflow.json": "overflow read as -inf by Python",
    "i_number_real_pos_overflow.json": "overflow read as inf by Python",
    # apiward bounds nesting at max_depth (32 by default); Python's limit
    # is its recursion limit, about 1000.
    "i_structure_500_nested_arrays.json": "500 levels: past max_depth",
}


class Refused(Exception):
    """A document strict Python refuses for a reason json.loads lacks."""


def no_duplicates(pairs):
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise Refused("duplicate member name")
    return dict(pairs)


def no_constants(name):
    raise Refused(f"{name} is not JSON")


def has_lone_surrogate(text):
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def check_strings(value):
    """Refuse a decoded string or name holding a lone surrogate."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if has_lone_surrogate(v):
                raise Refused("lone surrogate")
        elif isinstance(v, dict):
            for name, item in v.items():
                if has_lone_surrogate(name):
                    raise Refused("lone surrogate in a name")
                stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)


def python_accepts(data):
    try:
        text = data.decode("utf-8", errors="strict")
        value = json.loads(text, object_pairs_hook=no_duplicates,
                           parse_constant=no_constants)
        check_strings(value)
    except (UnicodeDecodeError, ValueError, Refused, RecursionError):
        return False
    return True


def apiward_verdicts(tool, paths):
    out = subprocess.run([tool, *paths], check=True, capture_output=True,
                         text=True).stdout
    verdicts = {}
    for line in out.splitlines():
        name, word, *rest = line.split(" ")
        verdicts[name] = (word == "accept", " ".join(rest))
    return verdicts


def main():
    tool, folder = sys.argv[1], sys.argv[2]
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    paths = [os.path.join(folder, n) for n in names]
    ours = apiward_verdicts(tool, paths)
    failures = []
    met = set()
    for name, path in zip(names, paths):
        with open(path, "rb") as f:
            py = python_accepts(f.read())
        aw, why = ours[name]
        if py == aw:
            if name in DISAGREEMENTS:
                failures.append(f"{name}: listed, but both "
                                f"{'accept' if aw else 'refuse'} it now")
            continue
        met.add(name)
        if name not in DISAGREEMENTS:
            failures.append(f"{name}: Python {'accepts' if py else 'refuses'}"
                            f", apiward {'accepts' if aw else 'refuses'}"
                            f" ({why or 'ok'})")
    print(f"json_differential: {len(names)} files, {len(met)} documented "
          f"disagreements")
    for line in failures:
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
