"""GPU check: a fixed number of training steps of `cifar10-paper` per method, timed within a budget, then the notebooks' `#| cuda` cells.

For the day a GPU is lent (one device; the table within `--budget-s`, 300 s by default):

    python bench/gpu.py                          # 5 warm-up + 30 timed steps per method, synthetic CIFAR-shaped data, then cuda cells
    python bench/gpu.py --data /tmp/kd_cifar/cifar10   # the same on a CIFAR-10 copy (folder or torchvision layout)
    python bench/gpu.py --bf16 --channels-last   # bf16 autocast (maps and JSD in float32) and channels_last models
    python bench/gpu.py --smoke --budget-s 60    # tiny CPU run (CI): width 4, 16 px, batch 16, 1 + 1 steps, no cuda cells

1. Per method (student alone `none`, `kd`, `attention`, `jacobian`, `hessian`), the library builds the run of the
   `cifar10-paper` preset (`config_for`, `check_config`, `make_model`, `make_learner`: full width 64, batch 128, its
   map settings) with an untrained teacher (the step time does not depend on the teacher's weights) and trains
   `--warmup` + `--steps` steps (not an epoch). A callback times each training step (device synchronised) and stops
   the fit after those steps or when the method's share of the budget is spent: the budget left divided by the
   methods left, so time a method does not use goes to the next. The first `--warmup` steps are left out of the
   median. Data: CIFAR-10 from `--data` if given, else random uint8 CIFAR-shaped images (as many as the steps need)
   through the same fast-path loader (`array_dls`, the augmentation `cifar_dls` uses).
2. It prints one table, always, whatever was cut: median step time, its ratio to the student alone, an epoch's
   estimated training time (median step x steps per epoch of CIFAR-10's 50,000 images at the batch size), the steps
   timed, peak memory (CUDA: `max_memory_allocated` during the steps, and its excess over the memory held before;
   CPU: the process's peak resident set size minus its resident size before, as bench/maps.py measures it), and the
   status: `ok`, `cut` (the budget stopped it early: fewer steps timed), `not run` (no budget left) or `failed`.
3. `--bf16`: the steps under the library's `BF16Autocast` (bfloat16 autocast of forward, task loss and maps on the
   device; the maps and the JSD are computed in float32 by the library); and, measured on the CPU, the JSD between each map method's maps under bf16 autocast
   and in float32, same models, batch and random vectors (width 16, batch 32, 32 px; `--smoke`: the smoke sizes).
   `--channels-last`: fastai's `ChannelsLast` (the student, and so its activations, channels-last; `MapDistillation`
   gives the teacher the student's format).
4. Then each notebook of nbs/ with a `#| cuda` cell runs under `nbdev-test --flags cuda` (skipped with `--smoke` or
   `--no-cells`): last, so that a cell that hangs cannot cost the table.

Exit status: non-zero if a cuda cell notebook fails or a method cannot run (a method cut by the budget is not a failure).
"""
import argparse, gc, os, statistics, subprocess, sys, time
STARTED = time.perf_counter()   # the budget counts from here: imports and data included
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

def _step_timer(n_steps:int, deadline:float):
    "A callback recording the seconds of each training batch (the device synchronised around it); the fit stops after `n_steps` or at `deadline`"
    from fastai.callback.core import Callback, CancelFitException
    class StepTimer(Callback):
        order = -100   # before every other callback's `before_batch`
        def before_fit(self): self.times, self.cut = [], False
        def before_batch(self):
            if self.training: _sync(str(self.dls.device)); self.start = time.perf_counter()
        def after_batch(self):
            if not self.training: return
            _sync(str(self.dls.device)); now = time.perf_counter(); self.times.append(now - self.start)
            if len(self.times) >= n_steps: raise CancelFitException()
            if now > deadline: self.cut = True; raise CancelFitException()
    return StepTimer()

def _memory_start(device:str)->int:
    "Reset the peak-memory counter; the memory in use now"
    if device.startswith('cuda'):
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); return torch.cuda.memory_allocated()
    with open('/proc/self/clear_refs', 'w') as f: f.write('5')   # the peak RSS restarts from the current RSS
    return _rss('VmRSS')

def _memory_peak(device:str)->int:
    return torch.cuda.max_memory_allocated() if device.startswith('cuda') else _rss('VmHWM')

def time_method(c, dls, method:str, warmup:int, steps:int, deadline:float, bf16:bool=False, channels_last:bool=False)->dict:
    "Median step time and memory of `warmup + steps` training steps of `method` under config `c`, stopped at `deadline`"
    import dataclasses
    from fastai.torch_core import set_seed
    from layerkd_nb.experiments import make_model, make_learner
    set_seed(0)
    device = str(dls.device)
    # the library's fast path: `BF16Autocast` and fastai's `ChannelsLast` (the teacher follows the student's format)
    c = dataclasses.replace(c, precision='bf16' if bf16 else 'fp32', channels_last=channels_last)
    student = make_model(c.student, c.n_classes, c.width).to(device)
    teacher = None if method == 'none' else make_model(c.teacher, c.n_classes, c.teacher_width or c.width).to(device).eval().requires_grad_(False)
    learn = make_learner(c, dls, student, method, 'multistep', teacher)
    timer = _step_timer(warmup + steps, deadline)
    cbs = [timer]
    base = _memory_start(device)
    with learn.no_logging(), learn.no_bar(): learn.fit(1, c.lr, cbs=cbs)
    peak = _memory_peak(device)
    times = timer.times[warmup:] or timer.times
    res = dict(method=method, step=statistics.median(times), timed=len(timer.times[warmup:]), peak=peak, extra=peak - base,
               status='cut' if timer.cut else 'ok')
    del learn, student, teacher; gc.collect()
    if device.startswith('cuda'): torch.cuda.empty_cache()
    return res

def bf16_map_jsd(width:int=16, bs:int=32, side:int=32, methods=('attention', 'jacobian', 'hessian'))->dict:
    "Per map method (the library's defaults), the mean JSD over layers, student and teacher, between maps under CPU bf16 autocast and in float32"
    from layerkd_nb.models import cifar_resnet10, cifar_resnet18, match_layers
    from layerkd_nb.maps import get_method
    from layerkd_nb.jsd import layer_divergences
    import torch.nn.functional as F
    res = {}
    for name in methods:
        torch.manual_seed(0)
        student, teacher = cifar_resnet10(10, width), cifar_resnet18(10, width).eval().requires_grad_(False)
        x, y = torch.randn(bs, 3, side, side), torch.randint(0, 10, (bs,))
        method = get_method(name); method.prepare(student)
        pairs = match_layers(student, teacher)
        state = method.batch_state(pairs)
        def maps(): return (method.student_maps(student, pairs, x, y, F.cross_entropy, create_graph=False, **state)
                            + method.teacher_maps(teacher, pairs, x, y, F.cross_entropy, **state))
        fp32 = maps()
        with torch.autocast('cpu', dtype=torch.bfloat16): bf16 = maps()
        res[name] = layer_divergences([m.float() for m in bf16], [m.float() for m in fp32]).mean().item()
    return res

def paper_config(width:int=None, bs:int=None):
    "The checked `cifar10-paper` config with every method; `width`, `bs`: None keeps the preset's"
    from layerkd_nb.experiments import config_for, check_config
    return check_config(config_for('cifar10-paper', methods=METHODS, lr_modes=('multistep',), width=width, bs=bs, n_classes=10), data=False)

def print_table(rows:list, device:str, steps_per_epoch:int):
    "The results as a markdown table, ratios to the student alone (`none`); a row per method, whatever ran"
    alone = next((r['step'] for r in rows if r['method'] == 'none' and 'step' in r), None)
    what = 'max allocated' if device.startswith('cuda') else 'peak RSS'
    print(f"\n| method | step (ms, median) | time / student alone | epoch est. (s, {steps_per_epoch} steps) | steps timed | "
          f"{what} (MiB) | extra (MiB) | status |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if 'step' not in r: print(f"| {r['method']} | - | - | - | 0 | - | - | {r['status']} |"); continue
        ratio = f"{r['step']/alone:.2f}" if alone else '-'
        print(f"| {r['method']} | {r['step']*1e3:.1f} | {ratio} | {r['step']*steps_per_epoch:.1f} | {r['timed']} | "
              f"{r['peak']/2**20:.0f} | {r['extra']/2**20:.0f} | {r['status']} |", flush=True)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--smoke', action='store_true', help='tiny CPU run: width 4, synthetic images of 16 px, batch 16, 1 + 1 steps, no cuda cells')
    p.add_argument('--data', help='a CIFAR-10 copy (folder or torchvision layout); default: synthetic CIFAR-shaped data')
    p.add_argument('--device', default=None, help="'cuda' or 'cpu'; default: cuda if available (cpu with --smoke)")
    p.add_argument('--width', type=int, default=None, help="stem width (default: the preset's 64; 4 with --smoke)")
    p.add_argument('--bs', type=int, default=None, help="batch size (default: the preset's 128; 16 with --smoke)")
    p.add_argument('--warmup', type=int, default=None, help='first steps left out of the median (default 5; 1 with --smoke)')
    p.add_argument('--steps', type=int, default=None, help='timed steps per method (default 30; 1 with --smoke)')
    p.add_argument('--budget-s', type=float, default=300., help='seconds for all the methods together; the table is printed whatever was cut')
    p.add_argument('--bf16', action='store_true', help='bf16 autocast; also prints the JSD between bf16 and float32 maps, measured on the CPU')
    p.add_argument('--channels-last', action='store_true', help='models and batches in channels_last memory format')
    p.add_argument('--no-cells', action='store_true', help='do not run the cuda cells')
    p.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS, help="methods to time ('none' is always timed)")
    a = p.parse_args(argv)
    device = a.device or ('cpu' if a.smoke or not torch.cuda.is_available() else 'cuda')
    if device.startswith('cuda') and not torch.cuda.is_available(): sys.exit("No CUDA device: run on a GPU machine, or use --smoke for the CPU check")
    if device == 'cpu' and not a.smoke and not a.width: sys.exit("No CUDA device (or --device cpu): full-width steps on a CPU take minutes each; "
                                                                  "use --smoke, or give --width (and --bs) to time a smaller run on the CPU")
    start = STARTED
    print(f"torch {torch.__version__}, device {device}" + (f" ({torch.cuda.get_device_name()})" if device.startswith('cuda') else
          f", {torch.get_num_threads()} threads") + (", smoke run" if a.smoke else '') + (", bf16 autocast" if a.bf16 else '')
          + (", channels_last" if a.channels_last else '') + f"; budget {a.budget_s:g} s; load average {os.getloadavg()[0]:.2f}", flush=True)
    warmup, steps = (a.warmup if a.warmup is not None else (1 if a.smoke else 5)), (a.steps or (1 if a.smoke else 30))
    c = paper_config(a.width or (4 if a.smoke else None), a.bs or (16 if a.smoke else None))
    if a.data:
        from layerkd_nb.data import cifar_dls
        dls = cifar_dls(a.data, bs=c.bs, device=device)
    else: dls = synthetic_dls(c.bs * (warmup + steps), c.bs, c.bs, side=16 if a.smoke else 32, device=device)
    steps_per_epoch = -(-50_000 // c.bs)
    print(f"cifar10-paper: student {c.student}, teacher {c.teacher}, width {c.width}, batch {c.bs}, {warmup} warm-up + {steps} timed "
          f"steps per method on {'synthetic data' if not a.data else a.data}", flush=True)
    ok, rows = True, []
    methods = list(dict.fromkeys(['none', *a.methods]))
    for i, m in enumerate(methods):
        left = a.budget_s - (time.perf_counter() - start)
        if left <= 0: rows.append(dict(method=m, status='not run')); print(f"{m}: not run (budget spent)", flush=True); continue
        deadline = time.perf_counter() + left / (len(methods) - i)   # this method's share; what it leaves goes to the next
        try: rows.append(time_method(c, dls, m, warmup, steps, deadline, a.bf16, a.channels_last))
        except Exception as e: print(f"{m}: FAILED: {type(e).__name__}: {e}", flush=True); ok = False; rows.append(dict(method=m, status='failed'))
        else: print(f"{m}: {rows[-1]['step']*1e3:.1f} ms per step, {rows[-1]['timed']} timed ({rows[-1]['status']}; "
                    f"{time.perf_counter() - start:.0f} s so far)", flush=True)
    print_table(rows, device, steps_per_epoch)
    print(f"\nimports, data and methods in {time.perf_counter() - start:.0f} s (budget {a.budget_s:g} s)", flush=True)
    if a.bf16:
        sizes = dict(width=4, bs=16, side=16) if a.smoke else dict(width=16, bs=32, side=32)
        jsd = bf16_map_jsd(**sizes)
        print(f"\nmaps under CPU bf16 autocast vs float32 (width {sizes['width']}, batch {sizes['bs']}, {sizes['side']} px), mean JSD (nats): "
              + ', '.join(f"{k} {v:.2g}" for k, v in jsd.items()), flush=True)
    if a.smoke or a.no_cells: print("cuda cells: skipped" + (" (smoke run)" if a.smoke else ''))
    else: ok = run_cuda_cells(cuda_notebooks()) and ok
    print(f"\ntotal {time.perf_counter() - start:.0f} s" + ('' if ok else '; FAILURES above'))
    return 0 if ok else 1

if __name__ == '__main__': sys.exit(main())
