"""Cost of one distillation training step per map method, as ratios to the plain cross-entropy step.

Student CIFAR ResNet10, teacher CIFAR ResNet18, random 32x32 batch. One step = student forward, task loss,
(maps of student and teacher at the 4 matched layers, JSD map loss), backward, SGD step; exactly what the
distillation callback does per batch. Each configuration runs in a fresh subprocess, so memory peaks don't mix:

- time: median seconds of the timed steps (after warm-up steps); the configurations run `--repeats` times,
  interleaved, and the smallest median is kept (other processes on a shared machine only ever slow a run down);
- memory on CPU: the process's peak resident set size (VmHWM) during the steps minus its resident size just before
  them (the high-water mark is reset with /proc/self/clear_refs after setup): the extra memory a step needs;
- memory on CUDA: torch.cuda.max_memory_allocated during the steps minus memory_allocated before them.

Configurations: `ce` (student only), `ce_autograd_bn` (student only, its batch norms converted to
`AutogradBatchNorm2d`: the cost of the conversion the Hessian method needs), `attention`, `jacobian`, `hessian`.

    python bench/maps.py --widths 64 16 --bs 128 --warmup 1 --steps 3 --repeats 2
    python bench/maps.py --profile hessian --widths 16      # top ops of one step
    python bench/maps.py --map-every 1 2 4 8 --widths 16 --steps 8 --repeats 2   # amortised cost of `map_every=k`
    python bench/maps.py --formulations --widths 16      # also the derivative targets, channel maps, measuring only
    python bench/maps.py --configs ce@ hessian:true_class@4 --widths 16 --steps 8   # any list of configurations

A configuration is `method[:target][:granularity][:measure][@k]`: `jacobian:true_class:channel` is
`JacobianMaps('true_class', 'channel')`; `:measure` computes the maps without training on them (`weight=0`; for the
loss-gradient Jacobian map the student's map is read from the backward's own gradients); `hessian:gauss_newton` is
`HessianMaps(curvature='gauss_newton')` (J^T H_out J z of the loss at logits / 4).

With `--map-every`, configuration `method@k` computes maps on every k-th step only (as `MapDistillation(map_every=k)`
does) and a step's time is the mean over `--steps` steps (a multiple of every k), so that it is
the amortised cost per batch; `ce` is then timed the same way.
"""
import argparse, json, os, statistics, subprocess, sys, time
from contextlib import nullcontext
import torch, torch.nn.functional as F
from torch.profiler import record_function

CONFIGS = ('ce', 'ce_autograd_bn', 'attention', 'jacobian', 'hessian')
FORMULATIONS = ('jacobian:logits', 'jacobian:true_class', 'jacobian:true_class:channel', 'jacobian:measure',
                'hessian:logits', 'hessian:true_class', 'hessian:measure', 'hessian:gauss_newton')
GOALS = dict(attention=1.8, jacobian=5.0, hessian=12.0)

def _method_of(config):
    "'jacobian:true_class:channel' -> ('jacobian', dict(target='true_class', granularity='channel'), measure=False)"
    name, *options = config.split(':')
    kw = {('granularity' if o in ('entry', 'channel') else 'target'): o for o in options if o not in ('measure', 'gauss_newton')}
    if 'gauss_newton' in options: kw['curvature'] = 'gauss_newton'
    return name, kw, 'measure' in options

def _setup(config, width, bs, device, map_every=1):
    from layerkd_nb.models import cifar_resnet10, cifar_resnet18, match_layers
    from layerkd_nb.maps import get_method, convert_batchnorm
    from layerkd_nb.jsd import layer_divergences
    torch.manual_seed(0)
    student, teacher = cifar_resnet10(10, width).to(device).train(), cifar_resnet18(10, width).to(device).eval()
    teacher.requires_grad_(False)
    name, kw, measure = _method_of(config)
    old_defaults = dict(target='loss', granularity='entry') if name == 'jacobian' else {}   # the formulations this bench measured
    method = get_method(name, **{**old_defaults, **kw}) if name in GOALS else None         # (before JacobianMaps' defaults became logits/channel)
    if method: method.prepare(student)
    if config == 'ce_autograd_bn': convert_batchnorm(student)
    pairs = match_layers(student, teacher)
    reuse = measure and getattr(method, 'reads_loss_gradients', False)   # a loss-gradient map read from the backward's own gradients
    opt = torch.optim.SGD(student.parameters(), lr=1e-3, momentum=0.9)
    x, y = torch.randn(bs, 3, 32, 32, device=device), torch.randint(0, 10, (bs,), device=device)
    calls = iter(range(10**9))
    def step():   # the phases are labelled for `--profile`; as `MapDistillation` does it (map term not scaled by k)
        opt.zero_grad()
        mapped = method is not None and next(calls) % map_every == 0
        with (method.capture(student, pairs) if mapped and not reuse else nullcontext()) as captured:
            with record_function('1 student forward + loss'):
                pred = student(x)
                loss = F.cross_entropy(pred, y)
            if mapped and not reuse:
                state = method.batch_state(pairs)
                with record_function('2 student maps'):
                    s_maps = method.student_maps(student, pairs, x, y, F.cross_entropy, pred, loss, captured,
                                                 create_graph=not measure, **state)
                with record_function('3 teacher maps'):
                    t_maps = method.teacher_maps(teacher, pairs, x, y, F.cross_entropy, **state)
                divergences = layer_divergences(s_maps, t_maps)
                if not measure: loss = loss + divergences.sum()
        with record_function('4 backward + SGD step'):
            loss.backward()
            if mapped and reuse:
                t_maps = method.teacher_maps(teacher, pairs, x, y, F.cross_entropy)
                layer_divergences(method.gradient_maps([p.student.weight.grad for p in pairs]), t_maps)
            opt.step()
    return step

def _rss(field):
    "VmRSS or VmHWM of this process, in bytes"
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'): return int(line.split()[1]) * 1024

def _sync(device):
    if device.startswith('cuda'): torch.cuda.synchronize()

def _split_config(config):
    "'hessian@4' -> ('hessian', 4); 'ce' -> ('ce', None)"
    name, _, k = config.partition('@')
    return name, int(k) if k else None

def worker(config, width, bs, warmup, steps, device):
    "Time and peak memory of `steps` training steps of `config`, as a JSON line (`method@k`: mean time, maps every k)"
    name, map_every = _split_config(config)
    step = _setup(name, width, bs, device, map_every or 1)
    if device.startswith('cuda'):
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
    else:
        with open('/proc/self/clear_refs', 'w') as f: f.write('5')   # reset the peak RSS to the current RSS
        base = _rss('VmRSS')
    times = []
    for i in range(warmup + steps):
        _sync(device); start = time.perf_counter()
        step()
        _sync(device); times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() if device.startswith('cuda') else _rss('VmHWM')
    timed = times[warmup:]
    amortised = map_every is not None or config.endswith('@')
    print(json.dumps(dict(config=config, width=width, memory=peak - base,
                          time=statistics.mean(timed) if amortised else statistics.median(timed))))

def profile(config, width, bs, device, rows=15):
    "Top ops (self time) of one step of `config`"
    from torch.profiler import profile as torch_profile, ProfilerActivity
    step = _setup(config, width, bs, device); step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith('cuda') else [])
    with torch_profile(activities=activities) as prof: step()
    key = 'self_cuda_time_total' if device.startswith('cuda') else 'self_cpu_time_total'
    print(f"## {config}, width {width}, batch {bs}, {device}\n")
    phases = sorted((e for e in prof.key_averages() if e.key[:2] in ('1 ', '2 ', '3 ', '4 ')), key=lambda e: e.key)
    total = sum(e.cpu_time_total for e in phases)
    print('| phase | ms | share |\n|---|---|---|')
    for e in phases: print(f"| {e.key[2:]} | {e.cpu_time_total/1e3:.0f} | {e.cpu_time_total/total:.0%} |")
    print()
    print(prof.key_averages().table(sort_by=key, row_limit=rows))

def _run_worker(config, width, bs, warmup, steps, device):
    out = subprocess.run([sys.executable, __file__, '--worker', config, '--widths', str(width), '--bs', str(bs),
                          '--warmup', str(warmup), '--steps', str(steps), '--device', device], capture_output=True, text=True)
    if out.returncode: sys.exit(f"{config} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])

def run_all(widths, bs, warmup, steps, device, repeats=1, configs=CONFIGS):
    "Run each configuration in its own process (`repeats` interleaved rounds) and print the table of ratios to `ce`"
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name()})" if device.startswith('cuda') else f", {torch.get_num_threads()} threads")
          + f", batch {bs}, {warmup} warm-up + {steps} timed steps (median), best of {repeats} rounds; "
          + f"load average before: {os.getloadavg()[0]:.2f}\n")
    print("| width | method | step (s) | time / CE | goal | peak extra memory (MiB) | memory / CE |")
    print("|---|---|---|---|---|---|---|")
    for width in widths:
        rounds = [{c: _run_worker(c, width, bs, warmup, steps, device) for c in configs} for _ in range(repeats)]
        res = {c: min((r[c] for r in rounds), key=lambda o: o['time']) for c in configs}
        ce = res[configs[0]]
        for config, r in res.items():
            name, k = _split_config(config)
            base = name.split(':')[0]
            goal = ('<= 3x (amortised)' if base == 'hessian' and (k or 1) > 1 else
                    f"<= {GOALS[base]}x" if base in GOALS and not name.endswith(':measure') else '')
            print(f"| {width} | {config} | {r['time']:.3f} | {r['time']/ce['time']:.2f} | {goal} | "
                  f"{r['memory']/2**20:.0f} | {r['memory']/ce['memory']:.2f} |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--widths', type=int, nargs='+', default=[64, 16])
    parser.add_argument('--bs', type=int, default=128)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--worker', help='internal: run one configuration')
    parser.add_argument('--map-every', type=int, nargs='+', help='amortised cost of maps on every k-th step, for these k')
    parser.add_argument('--profile', help='print the top ops of one step of this configuration')
    parser.add_argument('--formulations', action='store_true', help='also the map formulations (targets, channel maps, measuring only)')
    parser.add_argument('--configs', nargs='+', help='only these configurations (ce first), e.g. ce jacobian:logits hessian@4')
    a = parser.parse_args()
    if a.worker: worker(a.worker, a.widths[0], a.bs, a.warmup, a.steps, a.device)
    elif a.profile: profile(a.profile, a.widths[0], a.bs, a.device)
    elif a.configs: run_all(a.widths, a.bs, a.warmup, a.steps, a.device, a.repeats, tuple(a.configs))
    elif a.map_every:
        configs = ('ce@',) + tuple(f'{m}@{k}' for m in GOALS for k in a.map_every)   # 'ce@': CE timed as a mean too
        run_all(a.widths, a.bs, a.warmup, a.steps, a.device, a.repeats, configs)
    else: run_all(a.widths, a.bs, a.warmup, a.steps, a.device, a.repeats, CONFIGS + (FORMULATIONS if a.formulations else ()))
