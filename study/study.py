"""The CIFAR-10 study made with `layerkd_nb`: its arms, hypotheses and groups of seeds, its tables and plots, and the job
queues that trained its runs. It lives beside the library (it imports `layerkd_nb`; the package installs nothing of it).
Its pages: nbs/60_cifar.ipynb (the study), 61_maps_that_teach (the screening), 63_study (this script, tested).

    python study/study.py tables            # results/study/*.md and *.png, rebuilt from the committed runs
    python study/study.py summary           # the layer-wise verdict, the confirmation (H1-H4) and the harder task's (H1-H3)
    python study/study.py report            # the tables, and every folder's table.md, plots and verdict.md
    python study/study.py jobs              # the job queue, each job with what of it has finished
    OMP_NUM_THREADS=1 nohup python study/study.py run --data /tmp/kd_cifar/cifar10 > /tmp/v0.log 2>&1 &   # a worker per core
    OMP_NUM_THREADS=1 nohup python study/study.py screen --data /tmp/kd_cifar/cifar10 &                   # the screening
    python study/study.py screen-summary    # every finished screening run

Folders are relative to the repository root (the commands run there, wherever they are started from): a job's folder is
the `out` its `config.json` records.

The job queue. The layer-wise verdict of issue 14: multi-step vs `LayerwiseLR` under each reading, every map method,
seeds 1-3, on the `cifar10-kd` protocol (teacher on all 50k CIFAR-10 images, ResNet10 students on a fixed 10k, 16
epochs). Beside the readings, a control of the one reading that beat multi-step (rmsprop, power 3, stage scope): the
same rule with `shared=True`, each stage's rate the mean multiplier, which keeps the faster overall rate and drops the
layer-wise part; the harder task (2,500 images) runs that reading and its control too (results/cifar10-kd-2500-layerwise).
And a multi-step schedule that decays by 0.15 instead of 0.1 (results/cifar10-kd-gamma0.15): about the rates the control
reached on each phase, fixed in advance, so no JSD signal at all. The Jacobian `inverse` reading, whose mean multiplier is
not 1 (the mean of m/m_j is at least 1), gets its shared control too (jacobian-inverse-shared). Then the confirmation on
fresh seeds 4-6 (H1-H4, and H1-H3 on the harder task, pre-registered in 60_cifar), and issue 23's arms: input-Jacobian
maps, attention under a fixed schedule copying the control's multipliers, and the recipe (Hinton KD + attention maps).

The multi-step runs live in results/cifar10-kd (the preset's own grid); each (reading, method) is one `layerkd` grid in
results/cifar10-kd-layerwise/<method>-<reading>. Hessian runs measure their maps only (the method's default, weight 0)
on every 8th batch (the preset's `hessian_map_every`). Resumable: finished runs are read back, an interrupted one
continues after its last finished epoch. Any number of workers share the queue (a lock per job; a killed worker's lock
goes with it; the last Jacobian jobs are one seed each, so that three workers on two cores keep both busy to the end); a
worker that trained a job starts afresh, so that jobs added to the queue meanwhile are taken.

The screening (`cifar10-screen`, 61_maps_that_teach): each formulation is one `layerkd` grid (multi-step, the preset's
seed) in its own folder under results/cifar10-screen/<name>, all sharing the cached teacher of results/cifar10-teacher;
resumable and shared by any number of workers the same way. Every Jacobian entry names its target and granularity: the
library's defaults changed during the study (to logits per channel), and a formulation must not change with them.
"""
import argparse, fcntl, os, sys, time
import json
from dataclasses import asdict
from itertools import cycle
from pathlib import Path
import numpy as np, pandas as pd
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from layerkd_nb.experiments import (load_runs, read_results, collect_results, paired_difference, plot_band, config_for,
                                    check_config, grid_finished, run_experiment, layerwise_verdict, report_experiments,
                                    milestone_epochs)

REPO = Path(__file__).resolve().parents[1]   # the repository: the study's runs are in REPO/results
RESULTS = REPO/'results'

# ## Arms and comparisons
#
# An arm is a way of training (a folder, a method, an LR mode) whose seeds may live in several folders (seeds 1-3 in
# results/..., the fresh seeds 4-6 in results/confirm/...). Each comparison is a paired difference by seed with its
# t-interval (`paired_difference`), over the test seeds or over every seed both arms have (pooled).

# The shared control's multipliers as a fixed schedule (`lr_multipliers`): is the JSD signal needed, or only the
# schedule it produced?

def multiplier_trajectory(run:dict, # a layer-wise run (`load_runs`' dicts) with its `layer_lr` history
                         )->list: # one multiplier per epoch
    "The lr multiplier in force at the start of each epoch of a layer-wise run: 1 until the first interval ends, then the last one set (mean over layers)"
    hist = pd.DataFrame(run['layer_lr'])
    if not len(hist): raise ValueError(f"Run {run['name']} has no LayerwiseLR history (`layer_lr`): it is not a layer-wise run")
    set_at = hist.groupby('epoch').s.mean()   # interval end -> mean multiplier set there (acting from that epoch on)
    return [float(set_at[set_at.index <= e].iloc[-1]) if (set_at.index <= e).any() else 1. for e in range(run['epochs'])]

def control_multipliers(out, # folder of layer-wise runs, e.g. a `shared=True` control
                        seeds:list=None, # the seeds averaged over, all finished; None: every finished run
                       )->tuple: # one multiplier per epoch
    "The mean over `out`'s finished layer-wise runs of their per-epoch multipliers: a fixed trajectory for `lr_multipliers`"
    runs = [r for r in load_runs(out) if r['status'] == 'done' and r['lr_mode'] == 'layerwise' and (seeds is None or r['seed'] in seeds)]
    if missing := sorted(set(seeds or ()) - {r['seed'] for r in runs}): raise ValueError(
        f"{out} has no finished layer-wise run of seed(s) {missing}: finish them first, or average over other seeds")
    if not runs: raise ValueError(f"{out} holds no finished layer-wise run to copy the multipliers of")
    if len({r['epochs'] for r in runs}) > 1: raise ValueError(f"The runs of {out} have different numbers of epochs: {sorted({r['epochs'] for r in runs})}")
    return tuple(np.mean([multiplier_trajectory(r) for r in runs], 0).tolist())

# Arms

def arm_accuracy(sources:list, # (folder, method, lr_mode) triples whose finished runs make the arm (missing folders skipped)
                 metric:str='accuracy', # the metric compared
                 epoch:str='last', # 'last' (the headline) or 'best' (selected on the validation images)
                )->pd.Series: # the metric in % per seed
    "One arm's metric per seed, gathered from its folders (a seed may come from one folder only)"
    parts = []
    for folder, method, lr_mode in sources:
        r = collect_results(folder, epoch=epoch) if Path(folder).exists() else pd.DataFrame()
        if len(r): parts.append(r[(r.method == method) & (r.lr_mode == lr_mode)].set_index('seed')[metric] * 100)
    s = pd.concat(parts) if parts else pd.Series(dtype=float)
    if dup := sorted(set(s.index[s.index.duplicated()])): raise ValueError(
        f"Seed(s) {dup} of one arm are in more than one of its folders {[str(f) for f, *_ in sources]}: keep each seed in one")
    return s.sort_index().rename_axis('seed').rename(metric)

def compare_accuracies(acc:dict, # arm name -> its metric per seed (`arm_accuracy`)
                       comparisons:list, # (arm a, arm b) pairs: a minus b, paired by seed
                       seeds:list=None, # the seeds compared; None: every seed both arms have
                       level:float=0.95, # confidence level of the t-intervals
                      )->pd.DataFrame:
    "Each comparison a minus b, paired by seed: the arms' means over the common seeds, the difference and its t-interval"
    rows = []
    for a, b in comparisons:
        x, y = (acc[n] if seeds is None else acc[n][acc[n].index.isin(seeds)] for n in (a, b))
        common = x.index.intersection(y.index)
        rows.append(dict(a=a, b=b, a_mean=x[common].mean(), b_mean=y[common].mean(), **paired_difference(x, y, level)))
    return pd.DataFrame(rows, columns=['a', 'b', 'a_mean', 'b_mean', 'seeds', 'diff', 'lo', 'hi'])

def arm_accuracies(arms:dict, # arm name -> its sources (`arm_accuracy`)
                   comparisons:list, # (arm a, arm b) pairs
                  )->dict: # the arms the comparisons name -> metric per seed, each read once
    "Read once the arms `comparisons` name"
    if unknown := sorted({n for pair in comparisons for n in pair} - set(arms)): raise ValueError(
        f"Unknown arm(s) {unknown}: the arms are {list(arms)}")
    return {n: arm_accuracy(arms[n]) for n in {n for pair in comparisons for n in pair}}

def compare_arms(arms:dict, # arm name -> its sources (`arm_accuracy`)
                 comparisons:list, # (arm a, arm b) pairs: a minus b, paired by seed
                 seeds:list=None, # the seeds compared; None: every seed both arms have
                 level:float=0.95, # confidence level of the t-intervals
                )->pd.DataFrame:
    "Each comparison a minus b, paired by seed: the arms' means over the common seeds, the difference and its t-interval"
    return compare_accuracies(arm_accuracies(arms, comparisons), comparisons, seeds, level)

def study_arms(results=RESULTS, # the folder of the seeds 1-3 runs (and of the newer arms)
               confirm=RESULTS/'confirm', # the folder of the seeds 4-6 confirmation runs
               task:str='cifar10-kd', # the protocol's folder name: 'cifar10-kd', or 'cifar10-kd-2500' (the harder task)
              )->dict: # arm name -> (folder, method, lr_mode) sources
    "The arms of the `cifar10-kd` study (or of its harder task), from the folders the job queue writes (`study_jobs`)"
    r, c, lw = Path(results), Path(confirm), f'{task}-layerwise'
    def both(sub, method, lr_mode): return [(r/sub, method, lr_mode), (c/sub, method, lr_mode)]
    arms = {'student alone': both(task, 'none', 'multistep'),
            'KD': both(task, 'kd', 'multistep'),
            'attention multi-step': both(task, 'attention', 'multistep'),
            'attention stage reading': both(f'{lw}/attention-rmsprop-power3-stage', 'attention', 'layerwise'),
            'attention stage reading, shared': both(f'{lw}/attention-rmsprop-power3-stage-shared', 'attention', 'layerwise'),
            'attention multi-step, gamma 0.15': both(f'{task}-gamma0.15', 'attention', 'multistep'),
            'jacobian multi-step': both(task, 'jacobian', 'multistep'),
            'jacobian inverse': both(f'{lw}/jacobian-inverse', 'jacobian', 'layerwise'),
            'jacobian inverse, shared': both(f'{lw}/jacobian-inverse-shared', 'jacobian', 'layerwise')}
    if task != 'cifar10-kd': return arms   # the newer arms ran on `cifar10-kd` only
    return arms | {'attention, fixed control schedule': [(r/'fixed-schedule/attention-control-multipliers', 'attention', 'multistep')],
                   'KD + attention multi-step': [(r/'recipe/kd-attention-multistep', 'attention', 'multistep')],
                   'KD + attention, control reading': [(r/'recipe/kd-attention-control', 'attention', 'layerwise')],
                   'input-Jacobian multi-step': [(r/'cifar10-kd-input_jacobian', 'input_jacobian', 'multistep')]}

# ## The confirmation (H1-H4)
#
# The hypotheses as pre-registered in 60_cifar: each a paired difference of two arms on the fresh seeds 4-6 with its 95 %
# t-interval, and a rule: H1 ('zero') is confirmed if the interval contains 0 and refuted if it excludes it; H2-H4
# ('positive') are confirmed if the interval's lower end is above 0, not confirmed otherwise; with fewer than the three
# seeds the outcome is pending. The pooled estimate over every seed (1-6) stands beside it, as an estimate, not the test.
# `HARDER_CONFIRMATION` holds H1-H3 again for the harder task (pre-registered in 60_cifar too).

CONFIRMATION = dict(   # the pre-registered hypotheses (60_cifar): name -> (arm a, arm b, rule for a minus b)
    H1=('attention stage reading', 'attention stage reading, shared', 'zero'),
    H2=('attention stage reading', 'attention multi-step', 'positive'),
    H3=('jacobian inverse', 'jacobian multi-step', 'positive'),
    H4=('jacobian inverse', 'jacobian inverse, shared', 'positive'))
HARDER_CONFIRMATION = {f'{h}-2500': CONFIRMATION[h] for h in ('H1', 'H2', 'H3')}   # the same, on the harder task (pre-registered too)

def hypothesis_outcome(rule:str, # 'zero' (a minus b = 0) or 'positive' (a minus b > 0)
                       lo:float, hi:float, # the t-interval of a minus b
                       seeds:int, # the seeds it is over
                       planned:int=3, # the seeds the test needs
                      )->str:
    "The outcome of a pre-registered test by its rule: 'confirmed', 'refuted' / 'not confirmed', or pending"
    if seeds < planned: return f'pending ({seeds} of {planned} seeds)'
    if rule == 'zero': return 'confirmed' if lo <= 0 <= hi else 'refuted'
    if rule == 'positive': return 'confirmed' if lo > 0 else 'not confirmed'
    raise ValueError(f"Unknown rule {rule!r}: use 'zero' (a minus b = 0) or 'positive' (a minus b > 0)")

def confirmation_table(arms:dict, # `study_arms`
                       hypotheses:dict=CONFIRMATION, # name -> (arm a, arm b, rule)
                       test_seeds:tuple=(4, 5, 6), # the pre-registered test's seeds
                       level:float=0.95, # confidence level
                      )->pd.DataFrame:
    "Each hypothesis: a minus b on `test_seeds` with its t-interval and outcome, and the pooled estimate over every seed"
    rows, acc = [], arm_accuracies(arms, [(a, b) for a, b, _ in hypotheses.values()])
    for name, (a, b, rule) in hypotheses.items():
        test = compare_accuracies(acc, [(a, b)], seeds=test_seeds, level=level).iloc[0]
        pooled = compare_accuracies(acc, [(a, b)], level=level).iloc[0]
        rows.append(dict(hypothesis=name, a=a, b=b, rule=rule, seeds=test.seeds, diff=test['diff'], lo=test.lo, hi=test.hi,
                         outcome=hypothesis_outcome(rule, test.lo, test.hi, test.seeds, len(test_seeds)),
                         pooled_seeds=pooled.seeds, pooled_diff=pooled['diff'], pooled_lo=pooled.lo, pooled_hi=pooled.hi))
    return pd.DataFrame(rows)

# ## The recipe and the fixed schedule: the other two questions

RECIPE = [('KD + attention multi-step', 'KD'), ('KD + attention, control reading', 'KD'),
          ('KD + attention multi-step', 'attention multi-step'),
          ('KD + attention, control reading', 'KD + attention multi-step'), ('attention multi-step', 'KD')]
FIXED_SCHEDULE = [('attention, fixed control schedule', 'attention stage reading, shared'),
                  ('attention, fixed control schedule', 'attention multi-step'),
                  ('attention stage reading, shared', 'attention multi-step'),
                  ('attention, fixed control schedule', 'attention multi-step, gamma 0.15')]

def interval_text(d:float, lo:float, hi:float, # a difference and its t-interval (NaN: one seed)
                  n:int, # the seeds it is over
                 )->str:
    "A difference in points with its interval, '+0.50 [+0.10, +0.90]'; '+0.50' for one seed; '–' for none"
    return '–' if n == 0 else f'{d:+.2f}' if np.isnan(lo) else f'{d:+.2f} [{lo:+.2f}, {hi:+.2f}]'

def comparison_markdown(t:pd.DataFrame, # `compare_arms` or `confirmation_table` output
                       )->str:
    "The comparisons as a Markdown table: a minus b (points) with its 95 % t-interval and seeds (and a hypothesis' outcome and pooled estimate)"
    ci = interval_text
    def mean(v): return '–' if np.isnan(v) else f'{v:.2f}'
    if 'outcome' in t:
        head = ['hypothesis', 'a minus b', 'difference [95 % CI]', 'seeds', 'outcome', 'pooled [95 % CI]', 'pooled seeds']
        rows = [[r.hypothesis, f'{r.a} minus {r.b}', ci(r.diff, r.lo, r.hi, r.seeds), str(r.seeds), r.outcome,
                 ci(r.pooled_diff, r.pooled_lo, r.pooled_hi, r.pooled_seeds), str(r.pooled_seeds)] for r in t.itertuples()]
    else:
        head = ['a minus b', 'a', 'b', 'difference [95 % CI]', 'seeds']
        rows = [[f'{r.a} minus {r.b}', mean(r.a_mean), mean(r.b_mean), ci(r.diff, r.lo, r.hi, r.seeds), str(r.seeds)]
                for r in t.itertuples()]
    return '\n'.join('| ' + ' | '.join(cells) + ' |' for cells in [head, ['---'] * len(head), *rows])

# ## One table per question, by groups of seeds: 1-3 (where the findings were chosen), 4-6 (fresh), 1-6 pooled

SEED_SPLITS = {'seeds 1-3': (1, 2, 3), 'seeds 4-6': (4, 5, 6), 'seeds 1-6': None}   # group name -> seeds (None: every seed)
STUDY_VERDICT = [('KD', 'student alone'), ('attention multi-step', 'student alone'), ('jacobian multi-step', 'student alone'),
                 ('attention stage reading', 'attention multi-step'), ('attention stage reading, shared', 'attention multi-step'),
                 ('attention stage reading', 'attention stage reading, shared'),
                 ('attention multi-step, gamma 0.15', 'attention multi-step'),
                 ('jacobian inverse', 'jacobian multi-step'), ('jacobian inverse, shared', 'jacobian multi-step'),
                 ('jacobian inverse', 'jacobian inverse, shared')]

def split_comparisons(arms:dict, # arm name -> its sources (`arm_accuracy`)
                      comparisons:list, # (arm a, arm b) pairs: a minus b, paired by seed
                      splits:dict=SEED_SPLITS, # group name -> its seeds (None: every seed both arms have)
                      level:float=0.95, # confidence level of the t-intervals
                     )->pd.DataFrame: # `compare_arms`' columns and `split`, a row per comparison and group
    "Each comparison a minus b on each group of seeds (`compare_accuracies` per group, the runs read once), in one long table"
    acc = arm_accuracies(arms, comparisons)   # each arm read once, sliced by each group's seeds
    return pd.concat([compare_accuracies(acc, comparisons, seeds, level).assign(split=name) for name, seeds in splits.items()],
                     ignore_index=True)

def split_markdown(t:pd.DataFrame, # `split_comparisons` output
                  )->str:
    "The comparisons as a Markdown table: a row per comparison, per group of seeds a minus b (points) [95 % t-interval] and its seed count"
    def cell(r): return interval_text(r.diff, r.lo, r.hi, r.seeds) + ('' if r.seeds == 0 else ' (1 seed)' if r.seeds == 1 else f' ({r.seeds})')
    splits = list(dict.fromkeys(t.split))
    cells = {(r.a, r.b, r.split): cell(r) for r in t.itertuples()}
    head = ['a minus b', *[f'{s} [95 % CI] (seeds)' for s in splits]]
    rows = [[f'{a} minus {b}', *[cells[a, b, s] for s in splits]] for a, b in dict.fromkeys(zip(t.a, t.b))]
    return '\n'.join('| ' + ' | '.join(c) + ' |' for c in [head, ['---'] * len(head), *rows])

STUDY_TABLES = {'verdict.md': STUDY_VERDICT, 'recipe.md': RECIPE, 'fixed-schedule.md': FIXED_SCHEDULE}   # file -> comparisons

def write_study_tables(arms:dict, # `study_arms`
                       out, # folder the tables go to (e.g. results/study)
                       tables:dict=STUDY_TABLES, # file name -> comparisons
                      )->list: # the files written
    "Write each table of `tables` (`split_markdown` of `split_comparisons`) to `out`: the study's tables, rebuilt from its runs"
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    for name, comparisons in tables.items(): (out/name).write_text(split_markdown(split_comparisons(arms, comparisons)) + '\n')
    return [out/name for name in tables]

# ## Plots: the arms epoch by epoch

def arm_runs(sources:list, # (folder, method, lr_mode) triples (`study_arms`' values); missing folders skipped
             seeds:list=None, # the seeds kept; None: every finished run
            )->list: # `load_runs`' dicts, by seed
    "The finished runs of one arm, gathered from its folders"
    runs = [r for folder, method, lr_mode in sources if Path(folder).exists() for r in load_runs(folder)
            if r['status'] == 'done' and (r['method'], r['lr_mode']) == (method, lr_mode) and (seeds is None or r['seed'] in seeds)]
    return sorted(runs, key=lambda r: r['seed'])

def run_multipliers(run:dict, # a run (`load_runs`' dicts)
                   )->list: # one factor per epoch
    "The lr multiplier of each epoch: layer-wise (`multiplier_trajectory`), a fixed schedule's `lr_multipliers`, else 1"
    if run['layer_lr']: return multiplier_trajectory(run)
    return [float(m) for m in run['config'].get('lr_multipliers') or [1.] * run['epochs']]

def plot_arms(arms:dict, # arm name -> its sources (`study_arms`)
              names:list, # the arms drawn, in this order
              seeds:list=None, # the seeds drawn; None: every finished run
              metric:str='accuracy', # the validation metric drawn
              fname=None, # PNG to save
             ): # the figure; None when no named arm has a finished run
    "Validation `metric` (left; middle: the second half zoomed) and lr multiplier (right) per epoch of each arm: mean over its finished runs, band min..max"
    if unknown := sorted(set(names) - set(arms)): raise ValueError(f"Unknown arm(s) {unknown}: the arms are {list(arms)}")
    runs = {n: rs for n in names if (rs := arm_runs(arms[n], seeds))}
    if not runs: return None
    fig, axs = plt.subplots(1, 3, figsize=(14, 3.6))
    for (n, rs), ls in zip(runs.items(), cycle(['-', '--', '-.', ':'])):   # line styles: arms at the same multiplier stay told apart
        accuracy, multiplier = [[row[metric]*100 for row in r['per_epoch']] for r in rs], [run_multipliers(r) for r in rs]
        for ax, curves, start in ((axs[0], accuracy, 0), (axs[1], accuracy, None), (axs[2], multiplier, 0)):
            start = min(map(len, curves)) // 2 if start is None else start   # the middle panel: the second half
            plot_band(ax, curves, f"{n} ({len(rs)} run{'s' if len(rs) > 1 else ''})", start, alpha=0.15, ls=ls)
    axs[0].set_ylabel(f'valid {metric} %'); axs[1].set_title('second half, zoomed', fontsize=9); axs[2].set_ylabel('lr multiplier (x multi-step)')
    for ax in axs: ax.set_xlabel('epoch'); ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axs[2].legend(fontsize=8)
    fig.suptitle(f'Validation {metric} and lr multiplier per epoch (mean over runs, band: min..max)', fontsize=10)
    fig.tight_layout()
    if fname: fig.savefig(fname, dpi=100)
    return fig

STUDY_PLOTS = {   # file -> the arms it draws (`study_arms`' names)
    'fixed-schedule.png': ['attention multi-step', 'attention stage reading, shared', 'attention, fixed control schedule'],
    'recipe.png': ['KD', 'attention multi-step', 'KD + attention multi-step', 'KD + attention, control reading']}

def write_study_plots(arms:dict, # `study_arms`
                      out, # folder the plots go to (e.g. results/study)
                      plots:dict=STUDY_PLOTS, # file name -> the arms drawn
                     )->list: # the files written (a plot whose arms have no finished run is not)
    "Save each plot of `plots` (`plot_arms`, every seed) to `out`"
    out, written = Path(out), []
    out.mkdir(parents=True, exist_ok=True)
    for name, names in plots.items():
        if (fig := plot_arms(arms, names, fname=out/name)) is not None: plt.close(fig); written.append(out/name)
    return written

def check_study(results, # the study's results folder
                arms:dict, # its arms (`study_arms(results, results/'confirm')`)
               ):
    "Raise `FileNotFoundError` unless `results` is a folder holding at least one of the study's experiment folders"
    if not Path(results).is_dir(): raise FileNotFoundError(f"{results}: no such folder (the study's results folder, e.g. results)")
    if not any(Path(f).is_dir() for sources in arms.values() for f, *_ in sources):
        raise FileNotFoundError(f"{results} holds none of the study's folders (e.g. {results}/cifar10-kd): is it the folder the job queue writes to?")

# ## The screening: formulations on `cifar10-screen`

SCREEN = Path('results/cifar10-screen')
GRAD_NORM_EVERY = 10   # gradient norms recorded every 10th mapped batch

def formulation(name, methods, **kw): return name, dict(methods=methods, **kw)
FORMULATIONS = [   # in order of priority; a worker takes the first one not finished and not taken by another worker
    formulation('baselines', 'none,kd,attention'),
    formulation('jacobian-loss-w3', 'jacobian', target='loss', granularity='entry', weight=3.),        # the old default
    formulation('jacobian-loss-measure', 'jacobian', target='loss', granularity='entry', weight=0.),   # measuring only (no map term)
    *[formulation(f'jacobian-{t}-entry-auto0.1', 'jacobian', target=t, granularity='entry', weight='auto', grad_fraction=0.1)
      for t in ('loss', 'logits', 'true_class')],
    *[formulation(f'jacobian-{t}-channel-auto0.1', 'jacobian', target=t, granularity='channel', weight='auto', grad_fraction=0.1)
      for t in ('loss', 'logits', 'true_class')],
    formulation('attention-auto0.1', 'attention', weight='auto', grad_fraction=0.1),
    formulation('attention-auto0.3', 'attention', weight='auto', grad_fraction=0.3),
    *[formulation(f'jacobian-{t}-entry-auto{a}', 'jacobian', target=t, granularity='entry', weight='auto', grad_fraction=a)
      for a in (0.3, 0.03, 1.0) for t in ('loss', 'logits')],
    formulation('hessian-loss-measure', 'hessian', weight=0.),
    *[formulation(f'hessian-{t}-entry-auto0.1', 'hessian', target=t, weight='auto', grad_fraction=0.1)
      for t in ('loss', 'true_class', 'logits')],
    formulation('kd-attention', 'attention', map_kd_weight=1.),
    formulation('kd-jacobian-loss-measure', 'jacobian', target='loss', granularity='entry', weight=0., map_kd_weight=1.),
    formulation('kd-jacobian-loss-entry-auto0.1', 'jacobian', target='loss', granularity='entry', weight='auto', grad_fraction=0.1,
                map_kd_weight=1.),
    *[formulation(f'hessian-loss-entry-auto{a}', 'hessian', weight='auto', grad_fraction=a) for a in (0.3, 0.03)],
    formulation('hessian-loss-w3', 'hessian', weight=3.),                                # the old default (every batch)
    formulation('hessian-gauss_newton-T4-auto0.1', 'hessian', curvature='gauss_newton', weight='auto', grad_fraction=0.1),
    *[formulation(f'input_jacobian-true_class-auto{a}', 'input_jacobian', target='true_class', weight='auto', grad_fraction=a)
      for a in (0.1, 0.3, 1.0)],   # issue 23: Jacobian matching w.r.t. the input; run by the job queue's workers (`study_jobs`)
]

def screen_config(name:str, kw:dict, data:str, seeds=None):
    "The `cifar10-screen` config of formulation `name` (multi-step, gradient norms recorded)"
    return config_for('cifar10-screen', data=data, out=str(SCREEN/name), lr_modes='multistep', grad_norm_every=GRAD_NORM_EVERY,
                      seeds=seeds, **kw)

def screen_summary()->pd.DataFrame:
    "One row per finished run of every formulation: name, method, accuracy %, map weight, mean gradient-norm ratio"
    rows = []
    for name, _ in FORMULATIONS:
        for res in sorted((SCREEN/name).glob('runs/*/results.json')):
            r = asdict(read_results(res))   # the runner's one reader of results.json
            if r['status'] != 'done': continue
            norms = pd.DataFrame(r.get('grad_norms') or [])
            rows.append(dict(formulation=name, method=r['method'], seed=r['seed'], accuracy=100*r['final']['accuracy'],
                             map_weight=r.get('map_weight'), ratio=norms.ratio.mean() if len(norms) else None,
                             minutes=r['wall_time']/60))
    return pd.DataFrame(rows)

def run_screen(data:str, seeds=None, only:list=None):
    "A worker: train every formulation (of `only`, if given) not finished and not taken by another worker"
    for name, kw in FORMULATIONS:
        if only and name not in only: continue
        (SCREEN/name).mkdir(parents=True, exist_ok=True)
        with open(SCREEN/name/'.lock', 'w') as lock:
            try: fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError: continue   # another worker trains it
            run_experiment(screen_config(name, kw, data, seeds), resume=True, plots=False, verbose=False)
        print(screen_summary().query('formulation == @name').to_string(index=False, float_format='%.3f'), flush=True)

# ## The job queue: the layer-wise verdict, its controls, the confirmation on seeds 4-6, issue 23's arms

MULTISTEP = Path('results/cifar10-kd')
LAYERWISE = Path('results/cifar10-kd-layerwise')
HARDER = Path('results/cifar10-kd-2500')   # the harder task: 250 training images per class instead of 1,000
HARDER_LAYERWISE = Path('results/cifar10-kd-2500-layerwise')   # its runs of the stage reading and of that reading's control
SEEDS = '1,2,3'
READINGS = {   # name: `LayerwiseLR` options (the config's rule, power, scope)
    'relative': dict(rule='relative'),
    'inverse': dict(rule='inverse'),
    'rmsprop': dict(rule='rmsprop'),
    'rmsprop-power3': dict(rule='rmsprop', power=3.),
    'rmsprop-power3-stage': dict(rule='rmsprop', power=3., scope='stage'),
}
CONTROL = LAYERWISE/'attention-rmsprop-power3-stage-shared'   # the stage reading with one rate for all stages: the mean s_j
GENTLER = Path('results/cifar10-kd-gamma0.15')   # multi-step decaying by 0.15 instead of 0.1: the control's rates, fixed
STAGE, STAGE_SHARED = READINGS['rmsprop-power3-stage'], dict(READINGS['rmsprop-power3-stage'], shared=True)
INVERSE, INVERSE_SHARED = READINGS['inverse'], dict(READINGS['inverse'], shared=True)
# The confirmation on fresh seeds 4-6, pre-registered in 60_cifar (H1-H4) before any of these runs existed: the same
# protocol and cached teacher, folders mirroring the ones above under results/confirm. A job per (folder, method, seed).
CONFIRM = Path('results/confirm')
CONFIRM_MULTISTEP, CONFIRM_LAYERWISE = CONFIRM/MULTISTEP.name, CONFIRM/LAYERWISE.name
CONFIRM_HARDER, CONFIRM_HARDER_LAYERWISE = CONFIRM/HARDER.name, CONFIRM/HARDER_LAYERWISE.name
CONFIRM_SEEDS = '4,5,6'
STUDY = Path('results/study')   # the study's tables and plots (`write_study_tables`, `write_study_plots`)
# Issue 23's arms, after the confirmation
INPUT_JACOBIAN = Path('results/cifar10-kd-input_jacobian')
FIXED = Path('results/fixed-schedule/attention-control-multipliers')
RECIPE_MULTISTEP, RECIPE_CONTROL = Path('results/recipe/kd-attention-multistep'), Path('results/recipe/kd-attention-control')
SCREENED = [(SCREEN/name, kw) for name, kw in FORMULATIONS if kw['methods'] == 'input_jacobian']

def screened_options(kw:dict)->dict:
    "A screening formulation's options as a job of the queue: the screen's preset, multi-step, gradient norms recorded"
    return dict({k: v for k, v in kw.items() if k != 'methods'}, preset='cifar10-screen', lr_modes='multistep', grad_norm_every=GRAD_NORM_EVERY)

def best_screened()->dict:
    "The options of the most accurate input-Jacobian screening run (diverged: last), once all have ended; None before"
    scores = []
    for folder, kw in SCREENED:
        f = folder/'runs/input_jacobian-multistep-s0/results.json'
        if not f.exists() or (r := read_results(f)).status not in ('done', 'diverged'): return None
        scores.append((r.final['accuracy'] if r.status == 'done' else -1., kw))
    kw = max(scores, key=lambda o: o[0])[1]
    return dict({k: v for k, v in kw.items() if k != 'methods'}, lr_modes='multistep')

def input_jacobian_teaches()->bool:
    "Whether input-Jacobian maps beat the student alone on seeds 1-3 (the 95 % interval of the paired difference above 0)"
    t = compare_arms(study_arms(Path('results'), CONFIRM), [('input-Jacobian multi-step', 'student alone')], seeds=(1, 2, 3)).iloc[0]
    return t.seeds == 3 and t.lo > 0

def study_jobs()->list:
    "The queue, in order of priority: (folder, methods, config options[, seed]); a worker takes the first one not finished/taken"
    jobs = [
        (MULTISTEP, 'none,kd,attention,hessian,jacobian', {}),   # Hessian maps measured only, on every 8th batch (the preset's k)
        *[(LAYERWISE/f'attention-{r}', 'attention', kw) for r, kw in READINGS.items()],
        (CONTROL, 'attention', STAGE_SHARED),
        (GENTLER, 'attention', dict(lr_modes='multistep', gamma=0.15, teacher_gamma=0.1)),   # the preset's cached teacher
        (HARDER, 'none,attention', dict(n_train=2_500, lr_modes='multistep,layerwise', **READINGS['rmsprop-power3'])),
        (HARDER_LAYERWISE/'attention-rmsprop-power3-stage', 'attention', dict(n_train=2_500, **STAGE)),
        (HARDER_LAYERWISE/CONTROL.name, 'attention', dict(n_train=2_500, **STAGE_SHARED)),
        *[(LAYERWISE/f'hessian-{r}', 'hessian', kw) for r, kw in READINGS.items()],
        *[(LAYERWISE/f'jacobian-{r}', 'jacobian', READINGS[r]) for r in ('relative', 'inverse')],
        *[(LAYERWISE/f'jacobian-{r}', 'jacobian', READINGS[r], s) for r in ('rmsprop', 'rmsprop-power3', 'rmsprop-power3-stage')
          for s in SEEDS.split(',')],   # a job per seed: more workers than readings share the tail
        *[(LAYERWISE/'jacobian-inverse-shared', 'jacobian', INVERSE_SHARED, s) for s in SEEDS.split(',')],
        # the confirmation (H1-H4)
        *[job for s in CONFIRM_SEEDS.split(',') for job in (   # H1, H2: attention first, a seed at a time
            (CONFIRM_MULTISTEP, 'attention', dict(lr_modes='multistep'), s),
            (CONFIRM_LAYERWISE/'attention-rmsprop-power3-stage', 'attention', STAGE, s),
            (CONFIRM_LAYERWISE/'attention-rmsprop-power3-stage-shared', 'attention', STAGE_SHARED, s))],
        *[job for s in CONFIRM_SEEDS.split(',') for job in (   # H3, H4
            (CONFIRM_MULTISTEP, 'jacobian', dict(lr_modes='multistep'), s),
            (CONFIRM_LAYERWISE/'jacobian-inverse', 'jacobian', INVERSE, s),
            (CONFIRM_LAYERWISE/'jacobian-inverse-shared', 'jacobian', INVERSE_SHARED, s))],
        *[job for s in CONFIRM_SEEDS.split(',') for job in (   # the references
            (CONFIRM_MULTISTEP, 'none', dict(lr_modes='multistep'), s),
            (CONFIRM_MULTISTEP, 'kd', dict(lr_modes='multistep'), s),
            (CONFIRM/GENTLER.name, 'attention', dict(lr_modes='multistep', gamma=0.15, teacher_gamma=0.1), s))]]
    # Issue 23: (a) input-Jacobian maps screened for their weight on `cifar10-screen` (seed 0, 'auto' at three gradient-norm
    # fractions), then on `cifar10-kd` seeds 1-3 at the fraction whose screening run was most accurate, once the three have
    # ended (a worker re-reads the queue after every job); (b) attention under a fixed schedule: multi-step times the shared
    # control's mean multiplier per epoch over seeds 1-3 (read from its committed runs), no maps driving it; (c) the recipe:
    # Hinton KD + attention maps (`map_kd_weight=1`), multi-step and the control reading. (b) and (c) on seeds 1-3, then 4-6.
    control_multipliers_1_3 = control_multipliers(CONTROL, seeds=(1, 2, 3))   # one per epoch: 1, 1, 1.10, 1.10, 1.24, ...
    def recipe_and_fixed_jobs(seeds): return [job for s in seeds.split(',') for job in (
        (FIXED, 'attention', dict(lr_modes='multistep', lr_multipliers=control_multipliers_1_3), s),
        (RECIPE_MULTISTEP, 'attention', dict(lr_modes='multistep', map_kd_weight=1.), s),
        (RECIPE_CONTROL, 'attention', dict(STAGE_SHARED, lr_modes='layerwise', map_kd_weight=1.), s))]
    best = best_screened()
    jobs += [
        *[(folder, kw['methods'], screened_options(kw), '0') for folder, kw in SCREENED],
        # the recipe multi-step on every seed first (added after its seed 1 run: +3.6 points over KD on that seed), then the rest as planned
        *[job for job in recipe_and_fixed_jobs(SEEDS) + recipe_and_fixed_jobs(CONFIRM_SEEDS) if job[0] == RECIPE_MULTISTEP],
        *[job for job in recipe_and_fixed_jobs(SEEDS) if job[0] != RECIPE_MULTISTEP],   # each job listed once
        *([(INPUT_JACOBIAN, 'input_jacobian', best, s) for s in SEEDS.split(',')] if best else []),
        *[job for job in recipe_and_fixed_jobs(CONFIRM_SEEDS) if job[0] != RECIPE_MULTISTEP]]
    # Issue 23 point 5, pre-registered in 60_cifar before any of these runs existed: H1-H3 on the harder task (2,500
    # training images, the `cifar10-kd` protocol otherwise), seeds 4-6, folders mirroring the ones above under results/confirm.
    jobs += [job for s in CONFIRM_SEEDS.split(',') for job in (
        (CONFIRM_HARDER, 'attention', dict(n_train=2_500, lr_modes='multistep'), s),
        (CONFIRM_HARDER_LAYERWISE/'attention-rmsprop-power3-stage', 'attention', dict(STAGE, n_train=2_500), s),
        (CONFIRM_HARDER_LAYERWISE/'attention-rmsprop-power3-stage-shared', 'attention', dict(STAGE_SHARED, n_train=2_500), s),
        (CONFIRM_HARDER, 'jacobian', dict(n_train=2_500, lr_modes='multistep'), s),
        (CONFIRM_HARDER_LAYERWISE/'jacobian-inverse', 'jacobian', dict(INVERSE, n_train=2_500), s))]
    if best and input_jacobian_teaches():   # "6 seeds if it teaches" (issue 23): seeds 4-6 last
        jobs += [(INPUT_JACOBIAN, 'input_jacobian', best, s) for s in CONFIRM_SEEDS.split(',')]
    return jobs

# ## The fast path's parity (issue 36): bf16 autocast + channels-last against the committed float32 runs
#
# The `cifar10-kd` protocol unchanged but for `precision='bf16', channels_last=True`: the same committed teacher (its key
# depends on neither), arms student alone, Hinton KD, attention multi-step and the recipe (Hinton KD + attention, the
# control reading), seeds 1-3, paired by seed with the float32 runs of results/cifar10-kd and results/recipe. A seed at a
# time, so that a stopped queue still has whole pairs. The gate (issue 36): every arm's 95 % interval within +-0.5 points.

FAST_PATH = Path('results/fast-path')
FAST = dict(precision='bf16', channels_last=True)
PARITY_MARGIN = 0.5   # points: the fast path becomes the default if every arm's 95 % interval lies within +-this

def fast_path_jobs()->list:
    "The parity queue: each arm's fast-path run per seed, seed by seed"
    return [job for s in SEEDS.split(',') for job in (
        *[(FAST_PATH/'cifar10-kd', m, dict(FAST, lr_modes='multistep'), s) for m in ('none', 'kd', 'attention')],
        (FAST_PATH/'recipe/kd-attention-control', 'attention', dict(STAGE_SHARED, **FAST, lr_modes='layerwise', map_kd_weight=1.), s))]

PARITY_ARMS = {'student alone': (FAST_PATH/'cifar10-kd', 'none', 'multistep'), 'KD': (FAST_PATH/'cifar10-kd', 'kd', 'multistep'),
               'attention multi-step': (FAST_PATH/'cifar10-kd', 'attention', 'multistep'),
               'KD + attention, control reading': (FAST_PATH/'recipe/kd-attention-control', 'attention', 'layerwise')}

def parity_table(results=RESULTS, # the study's results folder
                )->pd.DataFrame:
    "Per arm, fast path minus float32 paired by seed (seeds 1-3), its 95 % interval, whether it lies within the margin, and each path's mean wall time per run"
    fp32 = study_arms(results, Path(results)/'confirm')
    arms = {name: fp32[name] for name in PARITY_ARMS} | {f'{name}, fast path': [(Path(results)/src[0].relative_to('results'), *src[1:])]
                                                        for name, src in PARITY_ARMS.items()}
    t = compare_arms(arms, [(f'{name}, fast path', name) for name in PARITY_ARMS], seeds=(1, 2, 3))
    t['within'] = (t.lo >= -PARITY_MARGIN) & (t.hi <= PARITY_MARGIN) & (t.seeds == 3)
    def wall(name): 
        runs = [r for r in arm_runs(arms[name]) if r['seed'] in (1, 2, 3) and r['status'] == 'done']
        return np.mean([r['wall_time'] for r in runs]) if runs else np.nan
    t['a_wall'], t['b_wall'] = [wall(a) for a in t.a], [wall(b) for b in t.b]
    return t

def parity_markdown(t:pd.DataFrame)->str:
    "The parity table in Markdown: per arm float32 and fast-path means, the difference [95 % CI], seeds, within the margin, wall time per run"
    head = ['arm', 'float32 %', 'bf16 + channels-last %', 'difference [95 % CI]', 'seeds', f'within +-{PARITY_MARGIN}',
            'wall time per run, s, float32 -> fast (other loads: not a benchmark)']
    rows = [[r.b, f'{r.b_mean:.2f}', f'{r.a_mean:.2f}', interval_text(r.diff, r.lo, r.hi, r.seeds), str(r.seeds),
             'yes' if r.within else 'no' if r.seeds == 3 else 'pending', f'{r.b_wall:.0f} -> {r.a_wall:.0f}'] for r in t.itertuples()]
    return '\n'.join('| ' + ' | '.join(c) + ' |' for c in [head, ['---'] * len(head), *rows])

# ## The paper's regime (issue 37): `cifar10-regime`, its teacher first

REGIME = Path('results/cifar10-regime')

def regime_teacher(data:str):
    "Train (or finish, or read back) the regime's teacher, alone: one worker (a lock), epoch lines in the log"
    from layerkd_nb.experiments.results import make_dls, teacher_config, teacher_dirs
    from layerkd_nb.experiments.runner import get_teacher
    c = check_config(config_for('cifar10-regime', data=data))
    run_dir, _ = teacher_dirs(c)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir.parent/'.lock-teacher', 'w') as lock:
        try: fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError: sys.exit(f'study.py: another worker trains the teacher of {run_dir}')
        _, res = get_teacher(c, make_dls(teacher_config(c)))
    print(f"teacher: {res['metric']} {res['final'][res['metric']]:.4f} after {res['epochs_done']} epochs ({res['wall_time']:.0f} s)", flush=True)

REGIME_KW = dict(preset='cifar10-regime', lr_modes='multistep')
JACOBIAN_EVERY = 4   # the regime's Jacobian maps on every 4th batch (study/regime.md: its cost)

REGIME_ARMS = {   # study/regime.md's arms: name -> (folder under REGIME, method, settings over REGIME_KW)
    'A1 student alone': ('multistep', 'none', {}),
    'A2 Hinton KD': ('multistep', 'kd', {}),
    'A3 attention': ('multistep', 'attention', {}),
    'A4 attention, per-stage rates': ('layerwise/attention-rmsprop-power3-stage', 'attention',
                                      dict(STAGE, lr_modes='layerwise')),
    'A5 attention, shared rate': ('layerwise/attention-rmsprop-power3-stage-shared', 'attention',
                                  dict(STAGE_SHARED, lr_modes='layerwise')),
    'A6 the recipe': ('recipe/kd-attention-control', 'attention',
                      dict(STAGE_SHARED, lr_modes='layerwise', map_kd_weight=1.)),
    'A7 Jacobian maps, every 4th batch': (f'jacobian-every{JACOBIAN_EVERY}', 'jacobian', dict(map_every=JACOBIAN_EVERY))}
REGIME_ORDER = ('A1', 'A3', 'A4', 'A5', 'A2', 'A6', 'A7')   # within a seed, as pre-registered

def regime_jobs()->list:
    "The regime's queue as pre-registered in study/regime.md: the map_every check, then a seed at a time A1, A3, A4, A5, A2, A6, A7"
    check = [(REGIME/f'checks/jacobian-every{k}', 'jacobian', dict(REGIME_KW, n_train=5_000, teacher_n_train=0, epochs=4,
                                                                    map_every=k), '1') for k in (1, JACOBIAN_EVERY)]
    arms = [next(a for name, a in REGIME_ARMS.items() if name.startswith(k + ' ')) for k in REGIME_ORDER]
    return check + [(REGIME/folder, method, dict(REGIME_KW, **kw), s) for s in SEEDS.split(',') for folder, method, kw in arms]

# ## The regime's verdict: the arms A1-A7 and the tests R1-R5 exactly as study/regime.md pre-registered them

def regime_arms(results=RESULTS, # the study's results folder
               )->dict: # arm name -> its sources, (folder, method, lr_mode) triples (`arm_accuracy`)
    "The regime's arms (`REGIME_ARMS`), where `regime_jobs` writes them"
    r = Path(results)/REGIME.relative_to('results')
    return {name: [(r/folder, method, dict(REGIME_KW, **kw)['lr_modes'])] for name, (folder, method, kw) in REGIME_ARMS.items()}

EQUIVALENCE_MARGIN = 0.3   # points: R3's margin (study/regime.md)
REGIME_TESTS = dict(   # study/regime.md: name -> (arm a, arm b, rule for a minus b)
    R1=('A3 attention', 'A1 student alone', 'positive'),
    R2=('A6 the recipe', 'A2 Hinton KD', 'positive'),
    R3=('A4 attention, per-stage rates', 'A5 attention, shared rate', 'equivalent'),
    R4=('A4 attention, per-stage rates', 'A3 attention', 'positive'),
    R5=('A7 Jacobian maps, every 4th batch', 'A1 student alone', 'positive'))

def equivalence_outcome(lo90:float, hi90:float, # the 90 % t-interval of a minus b
                        lo95:float, hi95:float, # its 95 % t-interval
                        seeds:int, # the seeds it is over
                        planned:int=3, # the seeds the test needs
                        margin:float=EQUIVALENCE_MARGIN, # points
                       )->str:
    "R3's rule: equivalent if the 90 % interval lies within +-margin (two one-sided tests at 5 %), refuted if the 95 % excludes 0"
    if seeds < planned: return f'pending ({seeds} of {planned} seeds)'
    if -margin <= lo90 and hi90 <= margin: return 'confirmed'
    return 'refuted' if lo95 > 0 or hi95 < 0 else 'inconclusive'

def regime_table(results=RESULTS, # the study's results folder
                )->pd.DataFrame:
    "Per arm: finished seeds, mean and standard deviation over seeds of the last epoch's accuracy, and of the best epoch's"
    rows = []
    for name, sources in regime_arms(results).items():
        last, best = (arm_accuracy(sources, epoch=e) for e in ('last', 'best'))
        rows.append(dict(arm=name, seeds=len(last), last_mean=last.mean(), last_sd=last.std(ddof=1),
                         best_mean=best.mean(), best_sd=best.std(ddof=1)))
    return pd.DataFrame(rows)

def regime_tests(results=RESULTS, # the study's results folder
                 planned:int=3, # the seeds each test needs
                )->pd.DataFrame:
    "Each pre-registered test: a minus b at the last epoch, paired by seed, its 95 % (and 90 %) t-interval and outcome; the best epoch's difference beside"
    arms, rows = regime_arms(results), []
    for name, (a, b, rule) in REGIME_TESTS.items():
        last = {n: arm_accuracy(arms[n]) for n in (a, b)}
        d95, d90 = (paired_difference(last[a], last[b], level) for level in (0.95, 0.90))
        best = paired_difference(*(arm_accuracy(arms[n], epoch='best') for n in (a, b)))
        outcome = (equivalence_outcome(d90['lo'], d90['hi'], d95['lo'], d95['hi'], d95['seeds'], planned) if rule == 'equivalent'
                   else hypothesis_outcome(rule, d95['lo'], d95['hi'], d95['seeds'], planned))
        rows.append(dict(test=name, a=a, b=b, rule=rule, seeds=d95['seeds'], diff=d95['diff'], lo=d95['lo'], hi=d95['hi'],
                         lo90=d90['lo'], hi90=d90['hi'], outcome=outcome, best_diff=best['diff'], best_lo=best['lo'],
                         best_hi=best['hi']))
    return pd.DataFrame(rows)

def regime_markdown(arms:pd.DataFrame, # `regime_table`
                    tests:pd.DataFrame, # `regime_tests`
                   )->str:
    "The regime's two tables in Markdown: the arms (mean +- sd, last and best epoch), then the tests and their outcomes"
    def sd(m, s, n): return '–' if n == 0 else f'{m:.2f}' if n == 1 else f'{m:.2f} +- {s:.2f}'
    def rule(r): return f'within +-{EQUIVALENCE_MARGIN} (90 % CI)' if r == 'equivalent' else '> 0 (95 % CI)'
    def table(head, rows): return ['| ' + ' | '.join(c) + ' |' for c in [head, ['---'] * len(head), *rows]]
    one = table(['arm', 'seeds', 'last epoch, % (mean +- sd)', 'best epoch, % (selected on the test images)'],
                [[r.arm, str(r.seeds), sd(r.last_mean, r.last_sd, r.seeds), sd(r.best_mean, r.best_sd, r.seeds)]
                 for r in arms.itertuples()])
    two = table(['test', 'a minus b', 'rule', 'last epoch [95 % CI]', '90 % CI', 'seeds', 'outcome', 'best epoch [95 % CI]'],
                [[r.test, f'{r.a} minus {r.b}', rule(r.rule), interval_text(r.diff, r.lo, r.hi, r.seeds),
                  '–' if r.seeds < 2 else f'[{r.lo90:+.2f}, {r.hi90:+.2f}]', str(r.seeds), r.outcome,
                  interval_text(r.best_diff, r.best_lo, r.best_hi, r.seeds)] for r in tests.itertuples()])
    return '\n'.join(one + [''] + two)

def regime_teacher_run(results=RESULTS, # the study's results folder
                      )->dict: # its `results.json`, read (`read_results`), as a dict
    "The regime's teacher's results: the one run under `results`/cifar10-regime-teacher"
    files = sorted((Path(results)/'cifar10-regime-teacher/teachers').glob('*/results.json'))
    if len(files) != 1: raise FileNotFoundError(f"{len(files)} teachers under {results}/cifar10-regime-teacher, expected 1")
    return asdict(read_results(files[0]))

def plot_teacher(run:dict, # a run's results (`regime_teacher_run`)
                )->plt.Figure:
    "A run's test accuracy and losses per epoch, the lr decays marked"
    rows, c = run['per_epoch'], run['config']
    epochs = [r['epoch'] for r in rows]
    fig, (acc, loss) = plt.subplots(1, 2, figsize=(9, 3))
    acc.plot(epochs, [100 * r[run['metric']] for r in rows], marker='.')
    acc.set(title=f"{run['arch']} width {run['width']}: test {run['metric']}", xlabel='epoch', ylabel='%')
    for name in ('train_loss', 'valid_loss'): loss.plot(epochs, [r[name] for r in rows], marker='.', label=name)
    loss.set(title='losses', xlabel='epoch'); loss.legend(fontsize=8)
    for m in milestone_epochs(c['milestones'], run['epochs'])[0]:   # the lr falls after epoch m
        for ax in (acc, loss): ax.axvline(m + 0.5, color='grey', lw=0.8, ls='--')
    for ax in (acc, loss): ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig

QUEUES = dict(study=study_jobs, fast_path=fast_path_jobs, regime=regime_jobs)   # `run --queue NAME`: the jobs a worker takes

def job_config(folder:Path, methods:str, kw:dict, data:str, seeds:str=SEEDS):
    "A job's `cifar10-kd` config (`cifar10-screen` for the screening jobs): multi-step in results/cifar10-kd, else layer-wise, unless `kw` says"
    kw = dict(lr_modes='multistep' if folder == MULTISTEP else 'layerwise') | kw
    preset = kw.pop('preset', 'cifar10-kd')   # the screening jobs: 'cifar10-screen'
    return config_for(preset, data=data, out=str(folder), methods=methods, seeds=seeds, **kw)

def layerwise_folders(jobs:list)->list:
    "The readings' folders of the verdict (results/cifar10-kd-layerwise/*)"
    return sorted({f for f, *_ in jobs if f.parent == LAYERWISE})

def run_jobs(data:str, only:str=None, skip:str=None, queue:str='study'):
    "A worker: train every job of `queue` not finished and not taken by another worker; after a job it trained, start afresh"
    for folder, methods, kw, *seed in QUEUES[queue]():
        if only and not str(folder).startswith(only) or skip and str(folder).startswith(skip): continue
        if grid_finished(check_config(job_config(folder, methods, kw, data, *seed))): continue   # nothing to train
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder/f".lock-{methods.replace(',', '-')}{''.join(seed)}", 'w') as lock:   # one worker per job
            try: fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError: continue   # another worker trains it
            start = time.time()
            run_experiment(job_config(folder, methods, kw, data, *seed), resume=True, plots=False, verbose=False)
            print(f'done: {folder} {methods} {"seed " + seed[0] if seed else ""}', flush=True)
        if time.time() - start > 60:   # it trained: start afresh, so that jobs (and code) added meanwhile are seen
            os.execv(sys.executable, [sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]])

def recorded_data(folder:Path=None)->str:
    "The data path the committed runs of `folder` (default: the multi-step grid) recorded in their config.json (never read)"
    return json.loads((REPO/(folder or MULTISTEP)/'config.json').read_text())['data']

def jobs_table(data:str=None, queue:str='study')->pd.DataFrame:
    "Each job of the queue: its folder, methods, seeds and whether all its runs have finished (read from the folder; no data needed)"
    data = data or recorded_data()
    rows = []
    for folder, methods, kw, *seed in QUEUES[queue]():
        c = check_config(job_config(folder, methods, kw, data, *seed), data=False)
        rows.append(dict(folder=str(folder), methods=methods, seeds=','.join(map(str, c.seeds)), finished=grid_finished(c)))
    return pd.DataFrame(rows)

# ## The commands

def write_tables(results=RESULTS, # the study's results folder
                 plots:bool=True, # also the plots
                )->list: # the files written, under results/study
    "The study's tables by seeds 1-3, 4-6 and 1-6 (and its plots), rebuilt from its runs into `results`/study"
    arms = study_arms(results, Path(results)/'confirm')
    check_study(results, arms)
    out = Path(results)/'study'
    return write_study_tables(arms, out) + (write_study_plots(arms, out) if plots else [])

def print_confirmation():
    "The pre-registered tests: H1-H4 on seeds 4-6, and H1-H3 on the harder task (pooled: every seed so far)"
    print('\nThe pre-registered confirmation (seeds 4-6; pooled: every seed so far):')
    print(comparison_markdown(confirmation_table(study_arms(Path('results'), CONFIRM))))
    print('\nThe harder task (2,500 images), pre-registered too:')
    print(comparison_markdown(confirmation_table(study_arms(Path('results'), CONFIRM, task=HARDER.name), HARDER_CONFIRMATION)))

JEMALLOC = Path('/usr/lib/x86_64-linux-gnu/libjemalloc.so.2')   # Debian's libjemalloc2

def with_jemalloc(argv:list):
    "Run this process again under jemalloc where it is installed: glibc's allocator grows a long fit's memory without bound"
    if not JEMALLOC.exists() or 'jemalloc' in os.environ.get('LD_PRELOAD', '') or os.environ.get('LAYERKD_GLIBC_MALLOC'): return
    print(f'study.py: running under jemalloc ({JEMALLOC}; LAYERKD_GLIBC_MALLOC=1 to keep glibc\'s allocator)', flush=True)
    preload = ':'.join(filter(None, [str(JEMALLOC), os.environ.get('LD_PRELOAD')]))
    os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()), *argv], {**os.environ, 'LD_PRELOAD': preload})

def main(argv:list=None):
    p = argparse.ArgumentParser(prog='study.py', description="The CIFAR-10 study: its tables, verdicts and job queues")
    commands = p.add_subparsers(dest='command', required=True)
    t = commands.add_parser('tables', help="results/study/*.md and *.png from the committed runs (run it before committing finished runs)")
    t.add_argument('--results', default=str(RESULTS), help="the study's results folder (default: the repository's results/)")
    t.add_argument('--no-plots', action='store_true', help='the tables only')
    commands.add_parser('summary', help="the layer-wise verdict (every finished pair), H1-H4 and the harder task's H1-H3")
    commands.add_parser('report', help="the tables, and every folder's table.md, plots and verdict.md (`layerkd --report --versus`)")
    j = commands.add_parser('jobs', help='the job queue, each job with whether it has finished')
    r = commands.add_parser('run', help='a worker on the job queue (one per core; resumable)')
    s = commands.add_parser('screen', help='a worker on the screening formulations (one per core; resumable)')
    j.add_argument('--data', help="CIFAR-10's root (default: the path the committed runs recorded)")
    for c in (r, s): c.add_argument('--data', required=True, help="CIFAR-10's root")
    r.add_argument('--only', help='take only the jobs whose folder starts with this path (e.g. results/confirm/cifar10-kd-2500)')
    r.add_argument('--skip', help='leave the jobs whose folder starts with this path to other workers')
    for c in (r, j): c.add_argument('--queue', default='study', choices=list(QUEUES), help="the job queue (default: the study's)")
    commands.add_parser('parity', help="the fast path's parity with float32 (results/study/fast-path.md)")
    commands.add_parser('regime', help="the regime's tables (results/study/regime.md) and its teacher's curve (regime-teacher.png)")
    rt = commands.add_parser('regime-teacher', help="train the cifar10-regime teacher alone (resumable; one worker)")
    rt.add_argument('--data', required=True, help="CIFAR-10's root")
    s.add_argument('--seeds', help='the seeds (default: the preset\'s, 0)')
    s.add_argument('--only', nargs='+', help='these formulations only')
    commands.add_parser('screen-summary', help='every finished screening run')
    a = p.parse_args(argv)
    if getattr(a, 'data', None): a.data = os.path.abspath(os.path.expanduser(a.data))   # before moving to the repository
    if a.command == 'tables':
        try: files = write_tables(Path(a.results).resolve(), plots=not a.no_plots)
        except FileNotFoundError as e: sys.exit(f"study.py: error: {e}")
        print(*[f'study.py: wrote {f}' for f in files], sep='\n'); return
    if a.command in ('run', 'screen', 'regime-teacher'): with_jemalloc(sys.argv[1:] if argv is None else list(argv))
    os.chdir(REPO)   # the jobs' folders are relative to the repository (as their config.json files record them)
    if a.command == 'jobs': print(jobs_table(a.data, a.queue).to_string(index=False))
    elif a.command == 'run': run_jobs(a.data, a.only, a.skip, a.queue)
    elif a.command == 'regime-teacher': regime_teacher(a.data)
    elif a.command == 'regime':
        text = regime_markdown(regime_table(), regime_tests()); (STUDY/'regime.md').write_text(text + '\n'); print(text)
        plot_teacher(regime_teacher_run()).savefig(STUDY/'regime-teacher.png', dpi=110, bbox_inches='tight')
        print(f'study.py: wrote {STUDY}/regime.md and {STUDY}/regime-teacher.png')
    elif a.command == 'parity':
        text = parity_markdown(parity_table()); (STUDY/'fast-path.md').write_text(text + '\n'); print(text)
    elif a.command == 'screen': run_screen(a.data, a.seeds, a.only)
    elif a.command == 'screen-summary': print(screen_summary().to_string(index=False, float_format='%.3f'))
    else:   # summary, report: the verdict (with report, every folder's table and plots first): `layerkd --report`'s code
        if a.command == 'report':
            print(*[f'study.py: wrote {f}' for f in write_tables(RESULTS)], sep='\n')
            report_experiments(MULTISTEP, verbose=False); report_experiments(HARDER_LAYERWISE, versus=HARDER, verbose=False)
            v = report_experiments(LAYERWISE, versus=MULTISTEP, verbose=False)
        else: v = layerwise_verdict(MULTISTEP, [f for f in layerwise_folders(study_jobs()) if f.exists()])
        print(v.drop(columns='folder').to_string(index=False, float_format='%.2f'))
        print_confirmation()

if __name__ == '__main__': main()
