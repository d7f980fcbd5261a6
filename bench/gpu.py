"""GPU check: the notebooks' `#| cuda` cells, then one training epoch of `cifar10-paper` per method, timed.

For the day a GPU is lent (one device, within ~8 minutes):

    python bench/gpu.py                          # cuda cells + one epoch per method, synthetic CIFAR-shaped data
    python bench/gpu.py --data /tmp/kd_cifar/cifar10   # the same on a CIFAR-10 copy (folder or torchvision layout)
    python bench/gpu.py --smoke                  # tiny CPU run (CI): width 4, 32 images of 16 px, no cuda cells

1. Each notebook of nbs/ with a `#| cuda` cell runs under `nbdev-test --flags cuda` (skipped with `--smoke` or
   `--no-cells`).
2. Per method (student alone `none`, `kd`, `attention`, `jacobian`, `hessian`), the library builds the run of the
   `cifar10-paper` preset (`config_for`, `check_config`, `make_model`, `make_learner`: full width 64, batch 128, its
   map settings) with an untrained teacher (the step time does not depend on the teacher's weights), and fits one
   epoch. A callback times each training batch (device synchronised); the first `--warmup` batches are left out.
   Data: CIFAR-10 from `--data` if given, else random uint8 CIFAR-shaped images (50,000 train, 10,000 valid) through
   the same fast-path loader (`array_dls`, the augmentation `cifar_dls` uses).
3. It prints one table: median step time, its ratio to the student alone, the epoch's training time, and peak memory
   (CUDA: `max_memory_allocated` during the epoch, and its excess over the memory held before it; CPU: the process's
   peak resident set size over the epoch minus its resident size before it, as bench/maps.py measures it).

Exit status: non-zero if a cuda cell notebook fails or a method cannot run.
"""
import argparse, gc, os, statistics, subprocess, sys, time
from pathlib import Path
import torch

METHODS = ('none', 'kd', 'attention', 'jacobian', 'hessian')
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from maps import _rss, _sync   # bench/maps.py: resident memory and device sync, measured the same way

def cuda_notebooks(nbs:Path=ROOT/'nbs')->list:
    "The notebooks with a `#| cuda` cell"
    return sorted(p for p in nbs.glob('*.ipynb') if '"#| cuda' in p.read_text())

def run_cuda_cells(notebooks:list, timeout:int=300)->bool:
    "Run each notebook under `nbdev-test --flags cuda`; True if all pass"
    ok = True
    for nb in notebooks:
        start = time.perf_counter()
        try: res = subprocess.run(['nbdev-test', '--flags', 'cuda', str(nb)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        except subprocess.TimeoutExpired: print(f"cuda cells: {nb.name}: TIMEOUT after {timeout} s", flush=True); ok = False; continue
        passed = res.returncode == 0
        print(f"cuda cells: {nb.name}: {'passed' if passed else 'FAILED'} ({time.perf_counter() - start:.0f} s)", flush=True)
        if not passed: print((res.stdout + res.stderr)[-3000:]); ok = False
    return ok

def synthetic_dls(n_train:int, n_valid:int, bs:int, side:int=32, device=None):
    "Fast-path `DataLoaders` of random uint8 CIFAR-shaped images and labels (10 classes), CIFAR-10's statistics"
    from layerkd_nb.data import array_dls, cifar10_stats
    g = torch.Generator().manual_seed(0)
    def part(n): return (torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=g),
                         torch.randint(0, 10, (n,), generator=g))
    return array_dls(part(n_train), part(n_valid), [str(i) for i in range(10)], bs=bs, stats=cifar10_stats, device=device)

def _step_timer():
    "A callback recording the seconds of each training batch, the device synchronised around it"
    from fastai.callback.core import Callback
    class StepTimer(Callback):
        order = -100   # before every other callback's `before_batch`
        def before_fit(self): self.times = []
        def before_batch(self):
            if self.training: _sync(str(self.dls.device)); self.start = time.perf_counter()
        def after_batch(self):
            if self.training: _sync(str(self.dls.device)); self.times.append(time.perf_counter() - self.start)
    return StepTimer()

def _memory_start(device:str)->int:
    "Reset the peak-memory counter; the memory in use now"
    if device.startswith('cuda'):
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); return torch.cuda.memory_allocated()
    with open('/proc/self/clear_refs', 'w') as f: f.write('5')   # the peak RSS restarts from the current RSS
    return _rss('VmRSS')

def _memory_peak(device:str)->int:
    return torch.cuda.max_memory_allocated() if device.startswith('cuda') else _rss('VmHWM')

def time_method(c, dls, method:str, warmup:int)->dict:
    "Median step time, epoch time and memory of one training epoch of `method` under config `c`"
    from fastai.torch_core import set_seed
    from layerkd_nb.experiments import make_model
    from layerkd_nb.experiments import make_learner
    set_seed(0)
    device = str(dls.device)
    student = make_model(c.student, c.n_classes, c.width).to(device)
    teacher = None if method == 'none' else make_model(c.teacher, c.n_classes, c.teacher_width or c.width).to(device).eval().requires_grad_(False)
    learn = make_learner(c, dls, student, method, 'multistep', teacher)
    timer = _step_timer()
    base = _memory_start(device)
    with learn.no_logging(), learn.no_bar(): learn.fit(1, c.lr, cbs=timer)
    peak = _memory_peak(device)
    times = timer.times[warmup:] or timer.times
    res = dict(method=method, step=statistics.median(times), epoch=sum(timer.times), steps=len(timer.times), peak=peak, extra=peak - base)
    del learn, student, teacher; gc.collect()
    if device.startswith('cuda'): torch.cuda.empty_cache()
    return res

def paper_config(width:int=None, bs:int=None):
    "The checked `cifar10-paper` config with every method; `width`, `bs`: None keeps the preset's"
    from layerkd_nb.experiments import config_for, check_config
    return check_config(config_for('cifar10-paper', methods=METHODS, lr_modes=('multistep',), width=width, bs=bs, n_classes=10), data=False)

def print_table(rows:list, device:str):
    "The results as a markdown table, ratios to the student alone (`none`)"
    alone = next(r for r in rows if r['method'] == 'none')['step']
    what = 'max allocated' if device.startswith('cuda') else 'peak RSS'
    print(f"\n| method | step (ms, median) | time / student alone | epoch train (s) | steps | {what} (MiB) | extra (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['step']*1e3:.1f} | {r['step']/alone:.2f} | {r['epoch']:.1f} | {r['steps']} | "
              f"{r['peak']/2**20:.0f} | {r['extra']/2**20:.0f} |", flush=True)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--smoke', action='store_true', help='tiny CPU run: width 4, 32 synthetic images of 16 px, batch 16, no cuda cells')
    p.add_argument('--data', help='a CIFAR-10 copy (folder or torchvision layout); default: synthetic CIFAR-shaped data')
    p.add_argument('--device', default=None, help="'cuda' or 'cpu'; default: cuda if available (cpu with --smoke)")
    p.add_argument('--width', type=int, default=None, help='stem width (default: the preset\'s 64; 4 with --smoke)')
    p.add_argument('--warmup', type=int, default=None, help='first batches left out of the median (default 5; 1 with --smoke)')
    p.add_argument('--no-cells', action='store_true', help='do not run the cuda cells')
    p.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS, help="methods to time ('none' is always timed)")
    a = p.parse_args(argv)
    device = a.device or ('cpu' if a.smoke or not torch.cuda.is_available() else 'cuda')
    if device.startswith('cuda') and not torch.cuda.is_available(): sys.exit("No CUDA device: run on a GPU machine, or use --smoke for the CPU check")
    if device == 'cpu' and not a.smoke: sys.exit("No CUDA device (or --device cpu): a full-width epoch per method would take hours on a CPU; use --smoke")
    start = time.perf_counter()
    print(f"torch {torch.__version__}, device {device}" + (f" ({torch.cuda.get_device_name()})" if device.startswith('cuda') else
          f", {torch.get_num_threads()} threads") + (", smoke run" if a.smoke else ''), flush=True)
    ok = True
    if a.smoke or a.no_cells: print("cuda cells: skipped" + (" (smoke run)" if a.smoke else ''))
    else: ok = run_cuda_cells(cuda_notebooks())
    c = paper_config(a.width or (4 if a.smoke else None), 16 if a.smoke else None)
    if a.data:
        from layerkd_nb.data import cifar_dls
        dls = cifar_dls(a.data, bs=c.bs, device=device)
    else: dls = synthetic_dls(32, 16, c.bs, side=16, device=device) if a.smoke else synthetic_dls(50_000, 10_000, c.bs, device=device)
    print(f"cifar10-paper: student {c.student}, teacher {c.teacher}, width {c.width}, batch {c.bs}, "
          f"{len(dls.train)} steps per epoch on {'synthetic data' if not a.data else a.data}", flush=True)
    rows = []
    for m in dict.fromkeys(['none', *a.methods]):
        try: rows.append(time_method(c, dls, m, a.warmup if a.warmup is not None else (1 if a.smoke else 5)))
        except Exception as e: print(f"{m}: FAILED: {type(e).__name__}: {e}", flush=True); ok = False
        else: print(f"{m}: {rows[-1]['step']*1e3:.1f} ms per step ({time.perf_counter() - start:.0f} s so far)", flush=True)
    if any(r['method'] == 'none' for r in rows): print_table(rows, device)
    print(f"\ntotal {time.perf_counter() - start:.0f} s" + ('' if ok else '; FAILURES above'))
    return 0 if ok else 1

if __name__ == '__main__': sys.exit(main())
