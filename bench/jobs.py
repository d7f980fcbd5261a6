"""Parallel workers of the grid: images a second of `run_experiment` with `jobs=1` (one process, every core) and `jobs=2`
(two worker processes, half the cores each), measured in one run.

On a quiet machine (it measures throughput: nothing else should run):

    python bench/jobs.py                               # 4 runs: ResNet10 width 16, 1 epoch of 5000 synthetic 32x32 images
    python bench/jobs.py --data /work/data/cifar10     # the same on CIFAR-10 (a subset of --n-train training images)
    python bench/jobs.py --jobs 1,2,4 --seeds 0,1,2,3  # more job counts, 8 runs
    python bench/jobs.py --precision bf16 --channels-last   # the fast path (what the regime's workers run)
    python bench/jobs.py --smoke                       # seconds: tiny sizes, checks that the script runs

1. The grid: `--methods` (default `none,attention`) x seeds `--seeds` (default 0,1), constant lr, the student ResNet10 at
   `--width`, `--epochs` epochs of `--n-train` images, batch `--bs`. Data: random uint8 CIFAR-shaped images written in
   torchvision's CIFAR-10 format to a temporary folder (what `make_dls` reads in every worker), or `--data`.
2. The teacher (ResNet18, the same width, 1 epoch) is trained first, once, into a shared `teacher_dir`: the timings are
   the students' alone.
3. For each job count J, a new experiment folder and one call `run_experiment(config, jobs=J, threads=cores // J)`
   (J=1: in this process, with `torch.set_num_threads(cores)`; cores: `os.cpu_count()`). Timed: the whole call, worker
   start-up, imports and data included; plots off. The table: training images seen (runs x epochs x the full batches
   of `--n-train`; fastai drops a shuffled epoch's last partial batch), seconds, images a second, the ratio to the first
   job count, and the runs' own seconds summed (what `train_run` records: the rest is start-up and the table).
"""
import argparse, os, pickle, shutil, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch

def synthetic_cifar(root:Path, n_train:int, n_valid:int)->Path:
    "Random uint8 32x32 images and labels of 10 classes in torchvision's CIFAR-10 format (5 training batches, a test batch)"
    d = Path(root)/'cifar-10-batches-py'; d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    def batch(n): return dict(data=rng.integers(0, 256, (n, 3*32*32), dtype=np.uint8), labels=rng.integers(0, 10, n).tolist())
    def write(name, obj):
        with open(d/name, 'wb') as f: pickle.dump(obj, f)
    for i, part in enumerate(np.array_split(np.arange(n_train), 5), 1): write(f'data_batch_{i}', batch(len(part)))
    write('test_batch', batch(n_valid))
    write('batches.meta', dict(label_names=[f'class{i}' for i in range(10)]))
    return Path(root)

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--jobs', default='1,2', help="job counts to measure, comma-separated; the ratio is to the first")
    p.add_argument('--data', help="a CIFAR-10 copy (folder layout or torchvision's); default: synthetic images")
    p.add_argument('--n-train', type=int, default=5000, help="training images of each run (a subset of --data)")
    p.add_argument('--n-valid', type=int, default=1000, help="validation images")
    p.add_argument('--bs', type=int, default=128, help="batch size")
    p.add_argument('--width', type=int, default=16, help="width of student and teacher")
    p.add_argument('--epochs', type=int, default=1, help="epochs of each student run")
    p.add_argument('--methods', default='none,attention', help="methods of the grid")
    p.add_argument('--seeds', default='0,1', help="seeds of the grid")
    p.add_argument('--out', help="folder for data, teacher and experiments (kept); default: a temporary one, removed")
    p.add_argument('--precision', default='fp32', help="the runs' precision: 'fp32', 'bf16' or 'auto' (`ExperimentConfig.precision`)")
    p.add_argument('--channels-last', action='store_true', help="channels-last memory (`ExperimentConfig.channels_last`)")
    p.add_argument('--smoke', action='store_true', help="tiny sizes (64 images, width 4, batch 32, one seed): seconds")
    a = p.parse_args(argv)
    if a.smoke: a.n_train, a.n_valid, a.bs, a.width, a.seeds = 64, 32, 32, 4, '0'
    a.jobs = [int(j) for j in a.jobs.split(',')]
    if any(j < 1 for j in a.jobs): p.error(f"--jobs must be counts >= 1, got {a.jobs}")
    return a

def main(argv=None):
    a = parse_args(argv)
    from layerkd_nb.experiments.config import config_for, check_config, grid
    from layerkd_nb.experiments.results import make_dls, teacher_config, load_runs
    from layerkd_nb.experiments.runner import get_teacher
    from layerkd_nb.experiments.grids import run_experiment
    root = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix='bench-jobs-'))
    cores = os.cpu_count()
    load = os.getloadavg()[0]
    print(f"{cores} cores, torch {torch.__version__}, load average {load:.1f}"
          + (" (a busy machine: the ratio may differ on a quiet one)" if load > 0.5 else ''), flush=True)
    try:
        data = a.data or synthetic_cifar(root/'data', a.n_train, a.n_valid)
        base = dict(dataset='cifar10', data=str(data), n_train=a.n_train, n_valid=a.n_valid, teacher_n_train=None,
                    bs=a.bs, width=a.width, epochs=a.epochs, teacher_epochs=1, milestones=(), methods=a.methods,
                    lr_modes='constant', teacher_lr_mode='constant', seeds=a.seeds, teacher_dir=str(root/'teacher'),
                    precision=a.precision, channels_last=a.channels_last)
        c = check_config(config_for('cifar10-screen', **base, out=str(root/'teacher')))
        runs = grid(c.methods, c.lr_modes, c.seeds)
        torch.set_num_threads(cores)
        if any(m != 'none' for m, _, _ in runs):
            start = time.perf_counter()
            get_teacher(c, make_dls(teacher_config(c)), quiet=True)
            print(f"teacher {c.teacher} width {c.width}: {time.perf_counter() - start:.1f} s (not timed below)", flush=True)
        per_run = a.epochs * (a.n_train // a.bs) * a.bs
        print(f"{len(runs)} runs ({', '.join(c.methods)} x seeds {', '.join(map(str, c.seeds))}), {c.student} width {c.width}, "
              f"{a.epochs} epoch(s) of {a.n_train} {'synthetic ' if not a.data else ''}images, batch {a.bs}", flush=True)
        rows = []
        for jobs in a.jobs:
            threads = max(1, cores // jobs)
            if jobs == 1: torch.set_num_threads(threads)
            out = root/f'jobs{jobs}'
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            run_experiment(config_for('cifar10-screen', **base, out=str(out)), jobs=jobs, threads=threads, plots=False,
                           verbose=False)
            seconds = time.perf_counter() - start
            done = load_runs(out)
            rows.append(dict(jobs=jobs, threads=threads, runs=len(done), images=per_run*len(done), seconds=seconds,
                             run_seconds=sum(r['wall_time'] for r in done)))
            print(f"jobs {jobs}: {seconds:.1f} s", flush=True)
        torch.set_num_threads(cores)
        first = rows[0]['images'] / rows[0]['seconds']
        print(f"\n{'jobs':>4} {'threads':>7} {'runs':>4} {'images':>7} {'seconds':>8} {'images/s':>9} {'ratio':>6} {'runs_s':>7}")
        for r in rows:
            rate = r['images'] / r['seconds']
            print(f"{r['jobs']:>4} {r['threads']:>7} {r['runs']:>4} {r['images']:>7} {r['seconds']:>8.1f} {rate:>9.0f} "
                  f"{rate/first:>6.2f} {r['run_seconds']:>7.1f}")
        if len(rows) == 2 and rows[0]['jobs'] == 1:
            print(f"\njobs {rows[1]['jobs']} trains {rows[1]['images']/rows[1]['seconds']/first:.2f}x the images a second of jobs 1")
    finally:
        if not a.out: shutil.rmtree(root, ignore_errors=True)

if __name__ == '__main__': main()
