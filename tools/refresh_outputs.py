"""Run a notebook's cells up to a heading (or between two) and save their outputs, leaving the others' saved outputs.

The experiment notebooks' top part reads committed results only (tables, verdicts, plots of finished runs); their
long runs come later and under `nbdev-test` shrink to smoke runs, so `nbdev-test --save` would replace the real runs'
outputs with smoke outputs. After new runs are committed:

    python tools/refresh_outputs.py nbs/60_cifar.ipynb --upto "## The paper's protocol" && nbdev-clean
    python tools/refresh_outputs.py nbs/index.ipynb --from "### Confirmation" --upto "## The" && nbdev-clean && nbdev-readme

With `--from`, the cells before that heading run only if they hold nothing but imports (so the index's training
example is not rerun).
"""
import argparse, os, re
from pathlib import Path
from fastcore.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

def heading(cells, text, default):
    return next((i for i, c in enumerate(cells) if c.cell_type == 'markdown' and c.source.startswith(text)), default)

def imports_only(source):
    lines = [l for l in source.splitlines() if l.strip() and not l.lstrip().startswith('#')]
    return bool(lines) and all(re.match(r'(from \S+ )?import ', l) for l in lines)

p = argparse.ArgumentParser()
p.add_argument('notebook'); p.add_argument('--upto', required=True, help='the first markdown cell not run starts with this')
p.add_argument('--from', dest='start', help='run from the markdown cell starting with this (earlier: imports only)')
a = p.parse_args()
nb = read_nb(a.notebook)
stop = heading(nb.cells, a.upto, None)
if stop is None: raise SystemExit(f"no markdown cell starts with {a.upto!r}")
start = 0 if a.start is None else heading(nb.cells, a.start, None)
if start is None: raise SystemExit(f"no markdown cell starts with {a.start!r}")
root = Path.cwd(); os.chdir(Path(a.notebook).parent)
shell, n = CaptureShell(), 0
for i, c in enumerate(nb.cells[:stop]):
    if c.cell_type != 'code' or (i < start and not imports_only(c.source)): continue
    shell.cell(c); n += 1   # runs the cell and stores its outputs in it
    if any(o.get('output_type') == 'error' for o in c.get('outputs', [])):
        raise SystemExit(f"error in cell:\n{c.source}\n{c.outputs}")
os.chdir(root)
write_nb(nb, a.notebook)
print(f"{a.notebook}: {n} cells run, outputs saved")
