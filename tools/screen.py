"""Screening runs of issue 11: Jacobian/Hessian map formulations x loss weights on the `cifar10-screen` preset.

Each formulation is one `layerkd` grid (multi-step, the preset's seed) in its own folder under
results/cifar10-screen/<name>, all sharing the cached teacher of results/cifar10-teacher. Resumable: finished
runs are read back, an interrupted one continues after its last finished epoch. Two workers split the list:

    OMP_NUM_THREADS=1 nohup .venv/bin/python tools/screen.py --data /tmp/kd_cifar/cifar10 --worker 0 --workers 2 &
    OMP_NUM_THREADS=1 nohup .venv/bin/python tools/screen.py --data /tmp/kd_cifar/cifar10 --worker 1 --workers 2 &
    .venv/bin/python tools/screen.py --summary          # the table of every finished formulation
"""
import argparse, json
from pathlib import Path
import pandas as pd

ROOT = Path('results/cifar10-screen')
G = 10   # gradient norms recorded every 10th mapped batch

def f(name, methods, **kw): return name, dict(methods=methods, **kw)
FORMULATIONS = [
    f('baselines', 'none,kd,attention'),
    f('jacobian-loss-w3', 'jacobian', weight=3.),                              # the old default
    f('jacobian-loss-measure', 'jacobian', weight=0.),                         # measuring only (no map term)
    *[f(f'jacobian-{t}-entry-auto0.1', 'jacobian', target=t, weight='auto', grad_fraction=0.1)
      for t in ('loss', 'logits', 'true_class')],
    *[f(f'jacobian-{t}-channel-auto0.1', 'jacobian', target=t, granularity='channel', weight='auto', grad_fraction=0.1)
      for t in ('loss', 'logits', 'true_class')],
    f('hessian-loss-w3', 'hessian', weight=3.),                                # the old default (every batch)
    f('hessian-loss-measure', 'hessian', weight=0.),
    *[f(f'hessian-{t}-entry-auto0.1', 'hessian', target=t, weight='auto', grad_fraction=0.1)
      for t in ('loss', 'logits', 'true_class')],
    *[f(f'jacobian-{t}-entry-auto{a}', 'jacobian', target=t, weight='auto', grad_fraction=a)
      for a in (0.03, 0.3, 1.0) for t in ('loss', 'logits', 'true_class')],
    f('attention-auto0.1', 'attention', weight='auto', grad_fraction=0.1),
    f('attention-auto0.3', 'attention', weight='auto', grad_fraction=0.3),
    f('kd-attention', 'attention', map_kd_weight=1.),
    f('kd-jacobian-loss-measure', 'jacobian', weight=0., map_kd_weight=1.),
    f('kd-jacobian-logits-entry-auto0.1', 'jacobian', target='logits', weight='auto', grad_fraction=0.1, map_kd_weight=1.),
    *[f(f'hessian-{t}-entry-auto{a}', 'hessian', target=t, weight='auto', grad_fraction=a)
      for a in (0.03, 0.3) for t in ('loss', 'logits', 'true_class')],
]

def summary()->pd.DataFrame:
    "One row per finished run of every formulation: name, method, accuracy %, map weight, mean gradient-norm ratio"
    rows = []
    for name, _ in FORMULATIONS:
        for res in sorted((ROOT/name).glob('runs/*/results.json')):
            r = json.loads(res.read_text())
            if r['status'] != 'done': continue
            norms = pd.DataFrame(r.get('grad_norms') or [])
            rows.append(dict(formulation=name, method=r['method'], seed=r['seed'], accuracy=100*r['final']['accuracy'],
                             map_weight=r.get('map_weight'), ratio=norms.ratio.mean() if len(norms) else None,
                             minutes=r['wall_time']/60))
    return pd.DataFrame(rows)

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--data', default='/tmp/kd_cifar/cifar10'); p.add_argument('--worker', type=int, default=0)
    p.add_argument('--workers', type=int, default=1); p.add_argument('--summary', action='store_true')
    p.add_argument('--seeds', default=None)
    a = p.parse_args()
    if a.summary: print(summary().to_string(index=False, float_format='%.3f')); raise SystemExit
    from layerkd_nb.experiments import config_for, run_experiment
    for i, (name, kw) in enumerate(FORMULATIONS):
        if i % a.workers != a.worker: continue
        c = config_for('cifar10-screen', data=a.data, out=str(ROOT/name), lr_modes='multistep', grad_norm_every=G,
                       seeds=a.seeds, **kw)
        run_experiment(c, resume=True, plots=False, verbose=False)
        print(summary().query('formulation == @name').to_string(index=False, float_format='%.3f'), flush=True)
