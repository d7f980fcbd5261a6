"""Run a notebook's cells up to a heading and save their outputs, leaving the later cells' saved outputs as they are.

The experiment notebooks' top part reads committed results only (tables, verdicts, plots of finished runs); their
long runs come later and under `nbdev-test` shrink to smoke runs, so `nbdev-test --save` would replace the real runs'
outputs with smoke outputs. After new runs are committed:

    python tools/refresh_outputs.py nbs/06_cifar.ipynb --upto "## Protocol" && nbdev-clean
"""
import argparse, os
from pathlib import Path
from fastcore.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

p = argparse.ArgumentParser()
p.add_argument('notebook'); p.add_argument('--upto', required=True, help='the first markdown cell not run starts with this')
a = p.parse_args()
nb = read_nb(a.notebook)
stop = next(i for i, c in enumerate(nb.cells) if c.cell_type == 'markdown' and c.source.startswith(a.upto))
os.chdir(Path(a.notebook).parent)
shell = CaptureShell()
for c in nb.cells[:stop]:
    if c.cell_type != 'code': continue
    shell.cell(c)   # runs the cell and stores its outputs in it
    if any(o.get('output_type') == 'error' for o in c.get('outputs', [])):
        raise SystemExit(f"error in cell:\n{c.source}\n{c.outputs}")
os.chdir(Path(__file__).resolve().parent.parent)
write_nb(nb, a.notebook)
print(f"{a.notebook}: {stop} cells run, outputs saved")
