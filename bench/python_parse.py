#!/usr/bin/python3
"""The original parser's approach (abyss 0.2.6 dataparser.loadSetitecXls,
mode 'auto_data', original-system.md section 2.5), re-typed from the
specification to measure its throughput beside ours. Needs Debian's
python3-pandas. Usage: python_parse.py FILE... ; prints MB/s and files/s.
Not used by the tests."""
import sys
import time

import pandas as pd


def fix_number(tok):
    # replace the last comma with '.', delete the others
    i = tok.rfind(',')
    if i >= 0:
        tok = tok[:i].replace(',', '') + '.' + tok[i + 1:]
    return tok


def load_auto_data(path):
    with open(path, encoding='latin-1') as f:
        lines = f.read().split('\n')
    start = None
    for i, line in enumerate(lines):
        if 'Position (mm)' in line.split('\t')[0]:
            start = i
            break
    if start is None:
        raise ValueError('no Position (mm) header')
    names = lines[start].split('\t')
    data = {n: [] for n in names}
    for line in lines[start + 1:]:
        if not line:
            continue
        toks = line.split('\t')
        for n, t in zip(names, toks):
            data[n].append(float(fix_number(t)))
    data = {k: v for k, v in data.items() if v}
    return pd.DataFrame(data).astype('float32')


def main(paths):
    ok = 0
    t0 = time.perf_counter()
    for p in paths:
        try:
            load_auto_data(p)
            ok += 1
        except Exception:
            pass
    dt = time.perf_counter() - t0
    size = 0
    for p in paths:
        with open(p, 'rb') as f:
            size += len(f.read())
    print("python auto_data: %d files (%d parsed), %.1f MB in %.2f s: "
          "%.1f MB/s, %.0f files/s" % (len(paths), ok, size / 1e6, dt,
                                       size / 1e6 / dt, len(paths) / dt))


if __name__ == '__main__':
    main(sys.argv[1:])
