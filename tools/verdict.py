"""The layer-wise verdict of issue 14: multi-step vs `LayerwiseLR` under each reading, every map method, seeds 1-3,
on the `cifar10-kd` protocol (teacher on all 50k CIFAR-10 images, ResNet10 students on a fixed 10k, 16 epochs).

Beside the readings, a control of the one reading that beat multi-step (rmsprop, power 3, stage scope): the same rule
with `shared=True`, each stage's rate the mean multiplier, which keeps the faster overall rate and drops the layer-wise
part; the harder task (2,500 images) runs that reading and its control too (results/cifar10-kd-2500-layerwise). And a
multi-step schedule that decays by 0.15 instead of 0.1 (results/cifar10-kd-gamma0.15): about the rates the control
reached on each phase, fixed in advance, so no JSD signal at all. The Jacobian `inverse` reading, whose mean multiplier
is not 1 (the mean of m/m_j is at least 1), gets its shared control too (jacobian-inverse-shared).

The multi-step runs live in results/cifar10-kd (the preset's own grid); each (reading, method) is one `layerkd` grid
in results/cifar10-kd-layerwise/<method>-<reading>. Hessian runs measure their maps only (the method's default,
weight 0) on every 8th batch (the preset's `hessian_map_every`), so a multi-step Hessian run trains as the student
alone does, up to the rounding of the autograd batch norm (tested in 04c_distill). Resumable: finished runs are read
back, an interrupted one continues after its last finished epoch. Any number of workers share the list (a lock per
job; a killed worker's lock goes with it; the last Jacobian jobs are one seed each, so that three workers on two cores
keep both busy to the end); a worker that trained a job starts afresh, so that jobs added to the list meanwhile are
taken:

    OMP_NUM_THREADS=1 nohup .venv/bin/python tools/verdict.py --data /tmp/kd_cifar/cifar10 > /tmp/v0.log 2>&1 &  # per core
    .venv/bin/python tools/verdict.py --summary        # paired differences of every finished pair
    .venv/bin/python tools/verdict.py --report         # also every folder's table.md and plots and ROOT/verdict.md
                   # (= layerkd --out ROOT --report --versus results/cifar10-kd, and the same for the harder task)
    .venv/bin/python tools/verdict.py --tables         # the study's tables by seeds 1-3 / 4-6 / 1-6 (results/study/*.md,
                   # = layerkd --out results --report --study; --report writes them too): run it before committing finished runs
"""
import argparse, fcntl, os, sys, time
from pathlib import Path

MULTISTEP = Path('results/cifar10-kd')
ROOT = Path('results/cifar10-kd-layerwise')
HARDER = Path('results/cifar10-kd-2500')   # the harder task: 250 training images per class instead of 1,000
HARDER_ROOT = Path('results/cifar10-kd-2500-layerwise')   # its runs of the stage reading and of that reading's control
SEEDS = '1,2,3'

READINGS = {   # name: `LayerwiseLR` options (the config's rule, power, scope)
    'relative': dict(rule='relative'),
    'inverse': dict(rule='inverse'),
    'rmsprop': dict(rule='rmsprop'),
    'rmsprop-power3': dict(rule='rmsprop', power=3.),
    'rmsprop-power3-stage': dict(rule='rmsprop', power=3., scope='stage'),
}
CONTROL = ROOT/'attention-rmsprop-power3-stage-shared'   # the stage reading with one rate for all stages: the mean s_j
GENTLER = Path('results/cifar10-kd-gamma0.15')   # multi-step decaying by 0.15 instead of 0.1: the control's rates, fixed
JOBS = [   # in order of priority: (folder, methods, config options); a worker takes the first one not finished/taken
    (MULTISTEP, 'none,kd,attention,hessian,jacobian', {}),   # Hessian maps measured only, on every 8th batch (the preset's k)
    *[(ROOT/f'attention-{r}', 'attention', kw) for r, kw in READINGS.items()],
    (CONTROL, 'attention', dict(READINGS['rmsprop-power3-stage'], shared=True)),
    (GENTLER, 'attention', dict(lr_modes='multistep', gamma=0.15, teacher_gamma=0.1)),   # the preset's cached teacher
    (HARDER, 'none,attention', dict(n_train=2_500, lr_modes='multistep,layerwise', **READINGS['rmsprop-power3'])),
    (HARDER_ROOT/'attention-rmsprop-power3-stage', 'attention', dict(n_train=2_500, **READINGS['rmsprop-power3-stage'])),
    (HARDER_ROOT/CONTROL.name, 'attention', dict(n_train=2_500, **READINGS['rmsprop-power3-stage'], shared=True)),
    *[(ROOT/f'hessian-{r}', 'hessian', kw) for r, kw in READINGS.items()],
    *[(ROOT/f'jacobian-{r}', 'jacobian', READINGS[r]) for r in ('relative', 'inverse')],
    *[(ROOT/f'jacobian-{r}', 'jacobian', READINGS[r], s) for r in ('rmsprop', 'rmsprop-power3', 'rmsprop-power3-stage')
      for s in SEEDS.split(',')],   # a job per seed: more workers than readings share the tail
    *[(ROOT/'jacobian-inverse-shared', 'jacobian', dict(READINGS['inverse'], shared=True), s) for s in SEEDS.split(',')],
]

# The confirmation on fresh seeds 4-6, pre-registered in 06_cifar (H1-H4) before any of these runs existed: the same
# protocol and cached teacher, folders mirroring the ones above under results/confirm. A job per (folder, method, seed).
CONFIRM = Path('results/confirm')
CONFIRM_MULTISTEP, CONFIRM_ROOT = CONFIRM/MULTISTEP.name, CONFIRM/ROOT.name
CONFIRM_SEEDS = '4,5,6'
STUDY = Path('results/study')   # the study's tables by groups of seeds (`write_study_tables`)
STAGE, STAGE_SHARED = READINGS['rmsprop-power3-stage'], dict(READINGS['rmsprop-power3-stage'], shared=True)
INVERSE, INVERSE_SHARED = READINGS['inverse'], dict(READINGS['inverse'], shared=True)
JOBS += [
    *[job for s in CONFIRM_SEEDS.split(',') for job in (   # H1, H2: attention first, a seed at a time
        (CONFIRM_MULTISTEP, 'attention', dict(lr_modes='multistep'), s),
        (CONFIRM_ROOT/'attention-rmsprop-power3-stage', 'attention', STAGE, s),
        (CONFIRM_ROOT/'attention-rmsprop-power3-stage-shared', 'attention', STAGE_SHARED, s))],
    *[job for s in CONFIRM_SEEDS.split(',') for job in (   # H3, H4
        (CONFIRM_MULTISTEP, 'jacobian', dict(lr_modes='multistep'), s),
        (CONFIRM_ROOT/'jacobian-inverse', 'jacobian', INVERSE, s),
        (CONFIRM_ROOT/'jacobian-inverse-shared', 'jacobian', INVERSE_SHARED, s))],
    *[job for s in CONFIRM_SEEDS.split(',') for job in (   # the references
        (CONFIRM_MULTISTEP, 'none', dict(lr_modes='multistep'), s),
        (CONFIRM_MULTISTEP, 'kd', dict(lr_modes='multistep'), s),
        (CONFIRM/GENTLER.name, 'attention', dict(lr_modes='multistep', gamma=0.15, teacher_gamma=0.1), s))],
]

# Issue 23, after the confirmation: (a) input-Jacobian maps (`InputJacobianMaps`) screened for their weight on the
# `cifar10-screen` preset (tools/screen.py's formulations, seed 0: 'auto' at three gradient-norm fractions), then on
# `cifar10-kd` seeds 1-3 at the fraction whose screening run was most accurate: that job appears in the list once the
# three screening runs have ended (a worker re-reads the list after every job); (b) attention under a fixed schedule:
# multi-step times the shared control's mean multiplier per epoch over seeds 1-3 (read from its committed runs), no maps
# driving it; (c) the recipe: Hinton KD + attention maps (`map_kd_weight=1`), multi-step and the control reading.
# (b) and (c) on seeds 1-3 first, then 4-6.
import screen   # tools/screen.py
from layerkd_nb.experiments import control_multipliers
SCREENED = [(screen.ROOT/name, kw) for name, kw in screen.FORMULATIONS if kw['methods'] == 'input_jacobian']
INPUT_JACOBIAN = Path('results/cifar10-kd-input_jacobian')
FIXED = Path('results/fixed-schedule/attention-control-multipliers')
CONTROL_MULTIPLIERS = control_multipliers(CONTROL, seeds=(1, 2, 3))   # one per epoch: 1, 1, 1.10, 1.10, 1.24, ...
RECIPE = Path('results/recipe')
RECIPE_MULTISTEP, RECIPE_CONTROL = RECIPE/'kd-attention-multistep', RECIPE/'kd-attention-control'

def screened_options(kw):
    "A screening formulation's options as a job of this list: the screen's preset, multi-step, gradient norms recorded"
    return dict({k: v for k, v in kw.items() if k != 'methods'}, preset='cifar10-screen', lr_modes='multistep', grad_norm_every=screen.G)

def best_screened():
    "The options of the most accurate input-Jacobian screening run (diverged: last), once all have ended; None before"
    from layerkd_nb.experiments import read_results
    scores = []
    for folder, kw in SCREENED:
        f = folder/'runs/input_jacobian-multistep-s0/results.json'
        if not f.exists() or (r := read_results(f)).status not in ('done', 'diverged'): return None
        scores.append((r.final['accuracy'] if r.status == 'done' else -1., kw))
    kw = max(scores, key=lambda o: o[0])[1]
    return dict({k: v for k, v in kw.items() if k != 'methods'}, lr_modes='multistep')

def recipe_and_fixed_jobs(seeds):
    return [job for s in seeds.split(',') for job in (
        (FIXED, 'attention', dict(lr_modes='multistep', lr_multipliers=CONTROL_MULTIPLIERS), s),
        (RECIPE_MULTISTEP, 'attention', dict(lr_modes='multistep', map_kd_weight=1.), s),
        (RECIPE_CONTROL, 'attention', dict(STAGE_SHARED, lr_modes='layerwise', map_kd_weight=1.), s))]

BEST_INPUT_JACOBIAN = best_screened()
JOBS += [
    *[(folder, kw['methods'], screened_options(kw), '0') for folder, kw in SCREENED],
    # the recipe multi-step on every seed first (added after its seed 1 run: +3.6 points over KD on that seed; the
    # README's advice waits for its six seeds), then the rest as planned
    *[job for job in recipe_and_fixed_jobs(SEEDS) + recipe_and_fixed_jobs(CONFIRM_SEEDS) if job[0] == RECIPE_MULTISTEP],
    *[job for job in recipe_and_fixed_jobs(SEEDS) if job[0] != RECIPE_MULTISTEP],   # each job listed once
    *([(INPUT_JACOBIAN, 'input_jacobian', BEST_INPUT_JACOBIAN, s) for s in SEEDS.split(',')] if BEST_INPUT_JACOBIAN else []),
    *[job for job in recipe_and_fixed_jobs(CONFIRM_SEEDS) if job[0] != RECIPE_MULTISTEP],
]

# Issue 23 point 5, pre-registered in 06_cifar before any of these runs existed: H1-H3 on the harder task (2,500
# training images, the `cifar10-kd` protocol otherwise), seeds 4-6, folders mirroring the ones above under results/confirm.
CONFIRM_HARDER, CONFIRM_HARDER_ROOT = CONFIRM/HARDER.name, CONFIRM/HARDER_ROOT.name
JOBS += [job for s in CONFIRM_SEEDS.split(',') for job in (
    (CONFIRM_HARDER, 'attention', dict(n_train=2_500, lr_modes='multistep'), s),
    (CONFIRM_HARDER_ROOT/'attention-rmsprop-power3-stage', 'attention', dict(STAGE, n_train=2_500), s),
    (CONFIRM_HARDER_ROOT/'attention-rmsprop-power3-stage-shared', 'attention', dict(STAGE_SHARED, n_train=2_500), s),
    (CONFIRM_HARDER, 'jacobian', dict(n_train=2_500, lr_modes='multistep'), s),
    (CONFIRM_HARDER_ROOT/'jacobian-inverse', 'jacobian', dict(INVERSE, n_train=2_500), s))]

def input_jacobian_teaches():
    "Whether input-Jacobian maps beat the student alone on seeds 1-3 (the 95 % interval of the paired difference above 0)"
    from layerkd_nb.experiments import study_arms, compare_arms
    t = compare_arms(study_arms(), [('input-Jacobian multi-step', 'student alone')], seeds=(1, 2, 3)).iloc[0]
    return t.seeds == 3 and t.lo > 0

if BEST_INPUT_JACOBIAN and input_jacobian_teaches():   # "6 seeds if it teaches" (issue 23): seeds 4-6 last
    JOBS += [(INPUT_JACOBIAN, 'input_jacobian', BEST_INPUT_JACOBIAN, s) for s in CONFIRM_SEEDS.split(',')]

def config(folder, methods, kw, data, seeds=SEEDS):
    from layerkd_nb.experiments import config_for
    kw = dict(lr_modes='multistep' if folder == MULTISTEP else 'layerwise') | kw
    preset = kw.pop('preset', 'cifar10-kd')   # the screening jobs: 'cifar10-screen'
    return config_for(preset, data=data, out=str(folder), methods=methods, seeds=seeds, **kw)

def folders(): return sorted({f for f, *_ in JOBS if f.parent == ROOT})

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--data', default='/tmp/kd_cifar/cifar10'); p.add_argument('--summary', action='store_true')
    p.add_argument('--report', action='store_true')
    p.add_argument('--tables', action='store_true', help="write only the study's tables (results/study/*.md)")
    p.add_argument('--only', help='take only the jobs whose folder starts with this path (e.g. results/confirm/cifar10-kd-2500)')
    p.add_argument('--skip', help='leave the jobs whose folder starts with this path to other workers')
    a = p.parse_args()
    if a.tables or a.report:   # the study's tables (06_cifar and the home page show them; 06_cifar checks they are current)
        from layerkd_nb.experiments import main   # = layerkd --out results --report --study (study_arms(results, results/confirm))
        main(['--out', str(STUDY.parent), '--report', '--study'])
        if a.tables: raise SystemExit
    if a.summary or a.report:   # the verdict (and with --report every folder's table and plots): `layerkd --report`'s code
        from layerkd_nb.experiments import layerwise_verdict, report_experiments
        if a.report: report_experiments(MULTISTEP, verbose=False); report_experiments(HARDER_ROOT, versus=HARDER, verbose=False)
        v = (report_experiments(ROOT, versus=MULTISTEP, verbose=False) if a.report
             else layerwise_verdict(MULTISTEP, [f for f in folders() if f.exists()]))
        print(v.drop(columns='folder').to_string(index=False, float_format='%.2f'))
        from layerkd_nb.experiments import study_arms, confirmation_table, comparison_markdown   # H1-H4 (06_cifar)
        print('\nThe pre-registered confirmation (seeds 4-6; pooled: every seed so far):')
        print(comparison_markdown(confirmation_table(study_arms('results', CONFIRM))))
        from layerkd_nb.experiments import HARDER_CONFIRMATION
        print('\nThe harder task (2,500 images), pre-registered too:')
        print(comparison_markdown(confirmation_table(study_arms('results', CONFIRM, task=HARDER.name), HARDER_CONFIRMATION))); raise SystemExit
    from layerkd_nb.experiments import run_experiment, check_config
    from layerkd_nb.experiments import grid_finished
    for folder, methods, kw, *seed in JOBS:
        if a.only and not str(folder).startswith(a.only) or a.skip and str(folder).startswith(a.skip): continue
        if grid_finished(check_config(config(folder, methods, kw, a.data, *seed))): continue   # nothing to train
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder/f".lock-{methods.replace(',', '-')}{''.join(seed)}", 'w') as lock:   # one worker per job
            try: fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError: continue   # another worker trains it
            start = time.time()
            run_experiment(config(folder, methods, kw, a.data, *seed), resume=True, plots=False, verbose=False)
            print(f'done: {folder} {methods} {"seed " + seed[0] if seed else ""}', flush=True)
        if time.time() - start > 60:   # it trained: start afresh, so that jobs (and code) added meanwhile are seen
            os.execv(sys.executable, [sys.executable, *sys.argv])
