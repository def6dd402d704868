#!/usr/bin/env python3
"""The layering rule of README.md's "Architecture" section, enforced.

The README's layer table is the one source: each row `| N name | `mod` ... |`
puts modules in layer N. A module (include/pilemix/X.h, src/X.c,
src/mpi/X.c or X.h) includes only pilemix headers of its own or a lower
layer, and only layers from `mpi` up include <mpi.h>. Fails, naming the
file, line and include, when:
  - an include goes up a layer (or to a module in no layer);
  - a module file is in no layer, or the table names a module that is gone.

usage: check_layers.py SOURCE_ROOT        check the tree
       check_layers.py --self-test ROOT   also prove a planted bad include fails
"""
import pathlib
import re
import shutil
import sys
import tempfile

ROW = re.compile(r"^\|\s*(\d+)\s+([a-z]+)[^|]*\|([^|]*)\|")
PM_INCLUDE = re.compile(r'^\s*#\s*include\s+"pilemix/([a-z_0-9]+)\.h"')
LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_0-9]+)\.h"')
MPI_INCLUDE = re.compile(r"^\s*#\s*include\s+<mpi\.h>")


def read_layers(root):
    """{module: (rank, layer name)} from the README's layer table."""
    layers = {}
    names = {}
    in_arch = False
    for line in (root / "README.md").read_text().splitlines():
        if line.startswith("## "):
            in_arch = line.strip() == "## Architecture"
            continue
        m = ROW.match(line) if in_arch else None
        if not m:
            continue
        rank, name = int(m.group(1)), m.group(2)
        names[name] = rank
        for mod in re.findall(r"`([a-z_0-9]+)`", m.group(3)):
            if mod in layers:
                raise SystemExit(f"README.md: module {mod} is in two layers")
            layers[mod] = (rank, name)
    if not layers or "mpi" not in names:
        raise SystemExit("README.md: no layer table (with an mpi layer) in ## Architecture")
    return layers, names["mpi"]


def module_files(root):
    """(module, path) of every file the rule covers."""
    for p in sorted((root / "include/pilemix").glob("*.h")):
        yield p.stem, p
    for p in sorted((root / "src").glob("*.c")):
        yield p.stem, p
    for p in sorted((root / "src/mpi").glob("*.[ch]")):
        yield p.stem, p


def check(root):
    layers, mpi_rank = read_layers(root)
    problems = []
    seen = set()
    for mod, path in module_files(root):
        rel = path.relative_to(root)
        seen.add(mod)
        if mod not in layers:
            problems.append(f"{rel}: module {mod} is in no layer of README.md's table")
            continue
        rank, name = layers[mod]
        in_mpi_dir = path.parent.name == "mpi"
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = PM_INCLUDE.match(line) or (LOCAL_INCLUDE.match(line) if in_mpi_dir else None)
            if m:
                dep = m.group(1)
                if dep not in layers:
                    problems.append(f"{rel}:{n}: {line.strip()}: {dep} is in no layer")
                elif layers[dep][0] > rank:
                    problems.append(
                        f"{rel}:{n}: {line.strip()}: layer {name} may not include "
                        f"{dep} (layer {layers[dep][1]})"
                    )
            if MPI_INCLUDE.match(line) and rank < mpi_rank:
                problems.append(f"{rel}:{n}: {line.strip()}: only src/mpi may include mpi.h")
    for mod in sorted(set(layers) - seen):
        problems.append(f"README.md: layer table lists {mod}, which has no file")
    return problems


def self_test(root):
    """A bad include planted in a copy must fail the check."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = pathlib.Path(tmp)
        shutil.copy(root / "README.md", copy / "README.md")
        shutil.copytree(root / "include", copy / "include")
        shutil.copytree(root / "src", copy / "src")
        buf = copy / "src/buf.c"
        buf.write_text('#include "pilemix/state.h"\n' + buf.read_text())
        found = check(copy)
        if not any("src/buf.c:1:" in p and "state" in p for p in found):
            return ["self-test: a planted '#include \"pilemix/state.h\"' in src/buf.c passed"]
        print(f"self-test: the planted include fails as it should: {found[0]}")
    return []


def main(argv):
    args = [a for a in argv[1:] if a != "--self-test"]
    if len(args) != 1:
        raise SystemExit(__doc__)
    root = pathlib.Path(args[0])
    problems = check(root)
    if "--self-test" in argv:
        problems += self_test(root)
    for p in problems:
        print(p)
    if not problems:
        print("layers: every include goes to the same or a lower layer")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
