"""Screening runs of issue 11: Jacobian/Hessian map formulations x loss weights on the `cifar10-screen` preset (and of
issue 23: input-Jacobian maps at three weights, whose runs `tools/verdict.py` takes as jobs).

Each formulation is one `layerkd` grid (multi-step, the preset's seed) in its own folder under
results/cifar10-screen/<name>, all sharing the cached teacher of results/cifar10-teacher. Resumable: finished
runs are read back, an interrupted one continues after its last finished epoch. Any number of workers share the
list (each holds a lock on the formulation it trains; a killed worker's lock goes with it). Every Jacobian entry names
its target and granularity: the library's defaults changed during the study (to logits per channel), and a formulation
must not change with them.

    OMP_NUM_THREADS=1 nohup .venv/bin/python tools/screen.py --data /tmp/kd_cifar/cifar10 &   # one per core
    .venv/bin/python tools/screen.py --summary          # the table of every finished formulation
    .venv/bin/python tools/screen.py --seeds 0,1 --only jacobian-loss-entry-auto0.1 baselines   # more seeds
"""
import argparse, fcntl
from dataclasses import asdict
from pathlib import Path
import pandas as pd
from layerkd_nb.experiments import read_results

ROOT = Path('results/cifar10-screen')
G = 10   # gradient norms recorded every 10th mapped batch

def f(name, methods, **kw): return name, dict(methods=methods, **kw)
FORMULATIONS = [   # in order of priority; a worker takes the first one not finished and not taken by another worker
    f('baselines', 'none,kd,attention'),
    f('jacobian-loss-w3', 'jacobian', target='loss', granularity='entry', weight=3.),        # the old default
    f('jacobian-loss-measure', 'jacobian', target='loss', granularity='entry', weight=0.),   # measuring only (no map term)
    *[f(f'jacobian-{t}-entry-auto0.1', 'jacobian', target=t, granularity='entry', weight='auto', grad_fraction=0.1)
      for t in ('loss', 'logits', 'true_class')],
    *[f(f'jacobian-{t}-channel-auto0.1', 'jacobian', target=t, granularity='channel', weight='auto', grad_fraction=0.1)
      for t in ('loss', 'logits', 'true_class')],
    f('attention-auto0.1', 'attention', weight='auto', grad_fraction=0.1),
    f('attention-auto0.3', 'attention', weight='auto', grad_fraction=0.3),
    *[f(f'jacobian-{t}-entry-auto{a}', 'jacobian', target=t, granularity='entry', weight='auto', grad_fraction=a)
      for a in (0.3, 0.03, 1.0) for t in ('loss', 'logits')],
    f('hessian-loss-measure', 'hessian', weight=0.),
    *[f(f'hessian-{t}-entry-auto0.1', 'hessian', target=t, weight='auto', grad_fraction=0.1)
      for t in ('loss', 'true_class', 'logits')],
    f('kd-attention', 'attention', map_kd_weight=1.),
    f('kd-jacobian-loss-measure', 'jacobian', target='loss', granularity='entry', weight=0., map_kd_weight=1.),
    f('kd-jacobian-loss-entry-auto0.1', 'jacobian', target='loss', granularity='entry', weight='auto', grad_fraction=0.1,
      map_kd_weight=1.),
    *[f(f'hessian-loss-entry-auto{a}', 'hessian', weight='auto', grad_fraction=a) for a in (0.3, 0.03)],
    f('hessian-loss-w3', 'hessian', weight=3.),                                # the old default (every batch)
    f('hessian-gauss_newton-T4-auto0.1', 'hessian', curvature='gauss_newton', weight='auto', grad_fraction=0.1),
    *[f(f'input_jacobian-true_class-auto{a}', 'input_jacobian', target='true_class', weight='auto', grad_fraction=a)
      for a in (0.1, 0.3, 1.0)],   # issue 23: Jacobian matching w.r.t. the input; run by tools/verdict.py's workers
]

def summary()->pd.DataFrame:
    "One row per finished run of every formulation: name, method, accuracy %, map weight, mean gradient-norm ratio"
    rows = []
    for name, _ in FORMULATIONS:
        for res in sorted((ROOT/name).glob('runs/*/results.json')):
            r = asdict(read_results(res))   # the runner's one reader of results.json
            if r['status'] != 'done': continue
            norms = pd.DataFrame(r.get('grad_norms') or [])
            rows.append(dict(formulation=name, method=r['method'], seed=r['seed'], accuracy=100*r['final']['accuracy'],
                             map_weight=r.get('map_weight'), ratio=norms.ratio.mean() if len(norms) else None,
                             minutes=r['wall_time']/60))
    return pd.DataFrame(rows)

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--data', default='/tmp/kd_cifar/cifar10'); p.add_argument('--summary', action='store_true')
    p.add_argument('--seeds', default=None); p.add_argument('--only', nargs='+', help='these formulations only')
    a = p.parse_args()
    if a.summary: print(summary().to_string(index=False, float_format='%.3f')); raise SystemExit
    from layerkd_nb.experiments import config_for, run_experiment
    for name, kw in FORMULATIONS:
        if a.only and name not in a.only: continue
        (ROOT/name).mkdir(parents=True, exist_ok=True)
        with open(ROOT/name/'.lock', 'w') as lock:
            try: fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError: continue   # another worker trains it
            c = config_for('cifar10-screen', data=a.data, out=str(ROOT/name), lr_modes='multistep', grad_norm_every=G,
                           seeds=a.seeds, **kw)
            run_experiment(c, resume=True, plots=False, verbose=False)
        print(summary().query('formulation == @name').to_string(index=False, float_format='%.3f'), flush=True)
