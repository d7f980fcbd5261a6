"""Cost of one distillation training step per map method, as ratios to the plain cross-entropy step.

Student CIFAR ResNet10, teacher CIFAR ResNet18, random 32x32 batch. One step = student forward, task loss,
(maps of student and teacher at the 4 matched layers, JSD map loss), backward, SGD step; exactly what the
distillation callback does per batch. Each configuration runs in a fresh subprocess, so memory peaks don't mix:

- time: median seconds of the timed steps (after warm-up steps); the configurations run `--repeats` times,
  interleaved, and the smallest median is kept (other processes on a shared machine only ever slow a run down);
  with `--cpu-time` (CPU only; best with `--threads 1`) the process's CPU time instead of wall time: the work a step
  does, which other processes on shared cores barely change, where wall time there can vary several-fold;
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

## FLOPs and the floor

Beside each time ratio the table prints two FLOP ratios to the `ce` step, both counted with
`torch.utils.flop_counter.FlopCounterMode` (it counts convolutions and matrix products, forward and backward, of any
order; batch norm, activations, the maps' own arithmetic and the JSD are elementwise and not counted: they are
bandwidth, not FLOPs, so time above the floor is where they show):

- **FLOPs**: the whole training step as implemented (the `step` below, `--flop-steps` of them for `method@k`, mean).
- **floor**: the passes the method's arithmetic cannot avoid, each counted on its own in a fresh graph of the same
  student, teacher and batch, summed:
  - student forward + task loss (`S_f`); every configuration;
  - student backward of the task loss, every parameter (`S_b`); `ce`, `attention` (its map term adds only
    elementwise ops to the backward) and every `:measure`;
  - teacher forward (`T_f`); every configuration with a teacher;
  - teacher gradient of the map's scalar at its 4 crucial weights only (`T_g`: the only weights requiring grad,
    the input not, so autograd stops at the first crucial conv, the stem); derivative maps;
  - student gradient of the map's scalar at its crucial weights (`S_g`); derivative maps, except the measured-only
    loss-gradient Jacobian map (read from `S_b`'s own gradients);
  - a Hessian-vector product beyond its gradient, at Pearlmutter's cost: one forward and one gradient more
    (`S_f + S_g`, `T_f + T_g`; an HVP ~ 2 gradients: an ideal no PyTorch product reaches on these nets: forward over
    reverse, `torch.func.jvp` of `grad`, counts more FLOPs than the implemented reverse over reverse, bench/hvp.py); the Gauss-Newton product `J^T H_out J z` needs no gradient,
    only a forward-mode J z (~ a forward, `S_f`/`T_f`) and a J^T (~ a gradient, `S_g`/`T_g`);
  - a map trained through: the one backward of `task loss + lambda * JSD(maps)` to every parameter, through the
    map's own derivative graph (`S_b2` for Jacobian maps, the backward of a backward; `S_b3` for Hessian maps, the
    backward of the reverse-over-reverse HVP graph, the only one PyTorch's autograd can differentiate again), counted
    as it runs, in place of `S_b`.

  So: `ce` = S_f + S_b; `attention` = S_f + S_b + T_f; `jacobian` = S_f + S_g + S_b2 + T_f + T_g;
  `jacobian:measure` = S_f + S_b + T_f + T_g (+ S_g for a target other than the loss); `hessian` = S_f + S_g +
  (S_f + S_g) + S_b3 + T_f + T_g + (T_f + T_g); `hessian:measure` = the same with S_b for S_b3. `--passes` prints
  each pass's GFLOPs, and beside them what the implementation's own Hessian-vector products cost (reverse over reverse).
- **map JSD**: the mean JSD (nats, over layers, student and teacher maps) between the configuration's maps and the
  exact maps of the same batch and random vectors: `hessian:gauss_newton` against `hessian`'s exact product; 0 for
  exact configurations (the same arithmetic as their reference).

`--precision bf16 --channels-last` adds the fast path, bf16 autocast in the memory format the library chooses per method
(`channels_last_default`: channels-last, except derivative maps on the CPU, NCHW), against float32 NCHW in the same run;
`--channels-last all` makes every method channels-last (the fast path before `channels_last_default`).

`--profile` with no configuration profiles, after the table, every configuration whose time is more than 1.3x its
floor (time ratio / floor ratio > 1.3). `--json FILE` writes `{config: {"time_ratio", "flop_ratio", "floor_ratio",
"memory_ratio", "map_jsd"}}` (one width; with several, `{width: {config: ...}}`).

    python bench/maps.py --widths 16 --bs 128 --json out.json
    python bench/maps.py --widths 16 --configs ce attention jacobian hessian --passes --profile
"""
import argparse, json, os, statistics, subprocess, sys, time
from pathlib import Path
from contextlib import nullcontext
import torch, torch.nn.functional as F
from torch.profiler import record_function
from torch.utils.flop_counter import FlopCounterMode

CONFIGS = ('ce', 'ce_autograd_bn', 'kd', 'attention', 'jacobian', 'jacobian:logits:channel', 'hessian', 'hessian:measure',
           'hessian:gauss_newton')
FORMULATIONS = ('jacobian:logits', 'jacobian:true_class', 'jacobian:true_class:channel', 'jacobian:measure',
                'hessian:logits', 'hessian:true_class', 'hessian:measure', 'hessian:gauss_newton')
GOALS = dict(attention=1.8, jacobian=5.0, hessian=12.0)
FAST_GOALS = dict(ce=2.0, kd=2.0, attention=2.0, jacobian=1.5, hessian=1.5)   # the fast path's speed-up over float32, at least
FAST_GOALS_AT = {('ce', 64): 3.0}   # (method, width) -> a higher goal

def _method_of(config):
    "'jacobian:true_class:channel' -> ('jacobian', dict(target='true_class', granularity='channel'), measure=False)"
    name, *options = config.split(':')
    kw = {('granularity' if o in ('entry', 'channel') else 'target'): o for o in options if o not in ('measure', 'gauss_newton')}
    if 'gauss_newton' in options: kw['curvature'] = 'gauss_newton'
    return name, kw, 'measure' in options

def _problem(width, bs, device):
    "(student in train mode, frozen teacher in eval mode, their 4 `LayerPair`s, images, labels): the same for the same arguments"
    from layerkd_nb.models import cifar_resnet10, cifar_resnet18, match_layers
    torch.manual_seed(0)
    student, teacher = cifar_resnet10(10, width).to(device).train(), cifar_resnet18(10, width).to(device).eval()
    teacher.requires_grad_(False)
    x, y = torch.randn(bs, 3, 32, 32, device=device), torch.randint(0, 10, (bs,), device=device)
    return student, teacher, match_layers(student, teacher), x, y

def _method_kwargs(name, kw):
    "The map method's arguments: for 'jacobian' the formulation this bench measured first (loss, entry) unless given"
    old_defaults = dict(target='loss', granularity='entry') if name == 'jacobian' else {}   # (before JacobianMaps' defaults became logits/channel)
    return {**old_defaults, **kw}

CHANNELS_LAST = 'default'   # the fast path's memory format: 'default' as the library chooses per method, 'all' channels-last

def fast_channels_last(method, device)->bool:
    "Whether the fast path of `method` (a `MapMethod` or None) is channels-last: `channels_last_default`, or always (`CHANNELS_LAST='all'`)"
    from layerkd_nb.callbacks.precision import channels_last_default
    return CHANNELS_LAST == 'all' or channels_last_default(method, device)

def _fast(student, teacher, x, channels_last=True):
    "The fast path's memory format: student, teacher and images channels-last (`BF16Autocast` + fastai's `ChannelsLast`), or as they are"
    if not channels_last: return student, teacher, x
    cl = torch.channels_last
    return student.to(memory_format=cl), teacher.to(memory_format=cl), x.contiguous(memory_format=cl)

def _autocast(device, fast):
    "bfloat16 autocast on `device` for the fast path (as `BF16Autocast`: forward, task loss and maps); else nothing"
    return torch.autocast(device.split(':')[0], dtype=torch.bfloat16) if fast else nullcontext()

def _setup(config, width, bs, device, map_every=1, fast=False):
    from layerkd_nb.maps import get_method, convert_batchnorm
    from layerkd_nb.jsd import layer_divergences
    student, teacher, pairs, x, y = _problem(width, bs, device)
    name, kw, measure = _method_of(config)
    method = get_method(name, **_method_kwargs(name, kw)) if name in GOALS else None
    if fast: student, teacher, x = _fast(student, teacher, x, fast_channels_last(method, device))
    if method: method.prepare(student)
    if config == 'ce_autograd_bn': convert_batchnorm(student)
    reuse = measure and getattr(method, 'reads_loss_gradients', False)   # a loss-gradient map read from the backward's own gradients
    kd = name == 'kd'   # Hinton's term alone: the teacher's logits under inference mode, as `MapDistillation` computes them
    if kd: from layerkd_nb.callbacks.distill import hinton_kd
    opt = torch.optim.SGD(student.parameters(), lr=1e-3, momentum=0.9)
    calls = iter(range(10**9))
    def step():   # the phases are labelled for `--profile`; as `MapDistillation` does it (map term not scaled by k)
        opt.zero_grad()
        mapped = method is not None and next(calls) % map_every == 0
        with _autocast(device, fast), (method.capture(student, pairs) if mapped and not reuse else nullcontext()) as captured:
            with record_function('1 student forward + loss'):
                pred = student(x).float()   # as `BF16Autocast.after_pred` (a no-op in float32)
                loss = F.cross_entropy(pred, y)
            if kd:
                with record_function('3 teacher logits'), torch.inference_mode(): t_pred = teacher(x)
                loss = loss + hinton_kd(pred, t_pred.clone())
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
                with _autocast(device, fast): t_maps = method.teacher_maps(teacher, pairs, x, y, F.cross_entropy)
                layer_divergences(method.gradient_maps([p.student.weight.grad for p in pairs]), t_maps)
            opt.step()
    return step

def _flops(fn):
    "(FLOPs of `fn()` as `FlopCounterMode` counts them, its result)"
    with FlopCounterMode(display=False) as counter: out = fn()
    return counter.get_total_flops(), out

def step_flops(step, n_steps=1):
    "Mean FLOPs of `n_steps` calls of `step` (a warm-up call first, not counted)"
    step()
    return _flops(lambda: [step() for _ in range(n_steps)])[0] / n_steps

PASSES = dict(   # the floor's passes, as `--passes` names them
    S_f='student forward + task loss', S_b='student backward of the task loss, every parameter',
    S_g="student gradient of the map's scalar at its crucial weights", S_jz='student J z (forward mode, ~ S_f)',
    S_hvp="student HVP beyond its gradient (Pearlmutter: ~ S_f + S_g)",
    S_b2='student backward through the Jacobian maps (+ task loss), every parameter',
    S_b3='student backward through the Hessian maps (+ task loss), every parameter',
    T_f='teacher forward', T_g="teacher gradient of the map's scalar at its crucial weights only",
    T_jz='teacher J z (forward mode, ~ T_f)', T_hvp="teacher HVP beyond its gradient (Pearlmutter: ~ T_f + T_g)")

def floor_passes(config, width, bs, device):
    """(floor, implemented): FLOPs of each pass the arithmetic of `config` cannot avoid (keys of `PASSES`), each counted on
    its own in a fresh graph; and of the implementation's own curvature products, for comparison"""
    from layerkd_nb.maps import convert_batchnorm, autograd_batchnorm, derivative_target, rademacher_like, weight_map, weight_gauss_newton_vp, grad_only_for
    from layerkd_nb.jsd import layer_divergences
    name, kw, measure = _method_of(_split_config(config)[0])
    kw = _method_kwargs(name, kw)
    student, teacher, pairs, x, y = _problem(width, bs, device)
    hessian, gauss_newton = name == 'hessian', kw.get('curvature') == 'gauss_newton'
    if hessian or config == 'ce_autograd_bn': convert_batchnorm(student)
    floor, implemented = {}, {}
    def count(into, key, fn):
        into[key], out = _flops(fn)
        return out
    params = list(student.parameters())
    pred = count(floor, 'S_f', lambda: student(x))
    loss = F.cross_entropy(pred, y)
    if name in ('attention', 'kd', 'ce', 'ce_autograd_bn'):
        if name in ('attention', 'kd'):
            with torch.no_grad(): count(floor, 'T_f', lambda: teacher(x))
        count(floor, 'S_b', lambda: torch.autograd.grad(loss, params))   # attention's map term adds elementwise ops only
        return floor, implemented
    target, granularity = kw.get('target', 'loss'), kw.get('granularity', 'entry')
    def scalar_of(p, l=None):
        return F.cross_entropy(p / kw.get('T', 4.), y) if gauss_newton else derivative_target(target, p, y, F.cross_entropy, l, 0)
    def derivatives(who, weights, p, scalar, trained):
        "`who`'s ('S' or 'T') derivatives the maps are made of; their floor passes counted into `floor`"
        if gauss_newton:   # J z by forward mode (~ a forward), J^T (H_out J z) (~ a gradient); the implemented product apart
            floor[f'{who}_jz'] = floor[f'{who}_f']
            floor[f'{who}_g'] = _flops(lambda: torch.autograd.grad(scalar, weights, retain_graph=True))[0]
            return count(implemented, f'{who} Gauss-Newton product as implemented', lambda: weight_gauss_newton_vp(
                p, scalar, weights, rademacher_like(weights), create_graph=trained, retain_graph=True))
        grads = count(floor, f'{who}_g', lambda: torch.autograd.grad(scalar, weights, create_graph=trained or hessian, retain_graph=True))
        if not hessian: return grads
        floor[f'{who}_hvp'] = floor[f'{who}_f'] + floor[f'{who}_g']
        vectors = rademacher_like(weights)
        return count(implemented, f'{who} HVP beyond its gradient as implemented (reverse over reverse)', lambda: torch.autograd.grad(
            sum((g * v).sum() for g, v in zip(grads, vectors)), weights, create_graph=trained, retain_graph=True))
    t_weights = [q.teacher.weight for q in pairs]
    with (autograd_batchnorm(teacher) if hessian else nullcontext()), grad_only_for(teacher, t_weights):
        t_pred = count(floor, 'T_f', lambda: teacher(x))
        t_maps = [weight_map(d.detach(), granularity) for d in derivatives('T', t_weights, t_pred, scalar_of(t_pred), False)]
    if measure:
        if not (name == 'jacobian' and target == 'loss'):   # else the map is read from S_b's own gradients
            derivatives('S', [q.student.weight for q in pairs], pred, scalar_of(pred, loss), False)
        count(floor, 'S_b', lambda: torch.autograd.grad(loss, params))
    else:
        ds = derivatives('S', [q.student.weight for q in pairs], pred, scalar_of(pred, loss), True)
        term = layer_divergences([weight_map(d, granularity) for d in ds], t_maps).sum()
        count(floor, 'S_b3' if hessian else 'S_b2', lambda: torch.autograd.grad(loss + term, params))
    return floor, implemented

def map_error(config, width, bs, device):
    "Mean JSD between the maps of `config` and the exact maps of the same batch and vectors (0 for exact configurations)"
    name, kw, measure = _method_of(_split_config(config)[0])
    if kw.get('curvature') != 'gauss_newton': return 0.
    from layerkd_nb.maps import get_method
    from layerkd_nb.jsd import layer_divergences
    student, teacher, pairs, x, y = _problem(width, bs, device)
    approx, exact = get_method(name, **kw), get_method(name, **{k: v for k, v in kw.items() if k not in ('curvature', 'T')})
    approx.prepare(student)
    state = approx.batch_state(pairs)
    def both(m): return (m.student_maps(student, pairs, x, y, F.cross_entropy, create_graph=False, **state)
                         + m.teacher_maps(teacher, pairs, x, y, F.cross_entropy, **state))
    return layer_divergences(both(approx), both(exact)).mean().item()

def fast_map_error(config, width, bs, device):
    "Mean JSD (nats, over layers, student and teacher) between the maps of `config` on the fast path and in float32, same batch and vectors"
    name, kw, measure = _method_of(_split_config(config)[0])
    if name not in GOALS: return 0.
    from layerkd_nb.maps import get_method
    from layerkd_nb.jsd import layer_divergences
    student, teacher, pairs, x, y = _problem(width, bs, device)
    method = get_method(name, **_method_kwargs(name, kw)); method.prepare(student)
    state = method.batch_state(pairs)
    def maps(s, t, xs, fast):
        with _autocast(device, fast), method.capture(s, pairs) as captured:
            pred = s(xs).float()
            s_maps = method.student_maps(s, pairs, xs, y, F.cross_entropy, pred, None, captured, create_graph=False, **state)
            return s_maps + method.teacher_maps(t, pairs, xs, y, F.cross_entropy, **state)
    fp32 = maps(student, teacher, x, False)
    return layer_divergences([m.float() for m in maps(*_fast(student, teacher, x, fast_channels_last(method, device)), True)], fp32).mean().item()

def matmul_rate(dtype=torch.bfloat16, n:int=2048, repeats:int=5)->float:
    "GFLOP/s of an n x n matrix product in `dtype` on the CPU with torch's threads (the best of `repeats`)"
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9

def _timed(fn):
    start = time.perf_counter(); fn(); return time.perf_counter() - start

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

def worker(config, width, bs, warmup, steps, device, count=True, cpu_time=False, fast=False):
    """Time and peak memory of `steps` training steps of `config`, as a JSON line (`method@k`: mean time, maps every k);
    with `count`, also the step's FLOPs, its floor's passes and the maps' error (`fast`: the fast path's map error instead)"""
    name, map_every = _split_config(config)
    step = _setup(name, width, bs, device, map_every or 1, fast)
    if device.startswith('cuda'):
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
    else:
        with open('/proc/self/clear_refs', 'w') as f: f.write('5')   # reset the peak RSS to the current RSS
        base = _rss('VmRSS')
    clock = time.process_time if cpu_time else time.perf_counter   # CPU time: what other processes on the cores do not inflate
    times = []
    for i in range(warmup + steps):
        _sync(device); start = clock()
        step()
        _sync(device); times.append(clock() - start)
    peak = torch.cuda.max_memory_allocated() if device.startswith('cuda') else _rss('VmHWM')
    timed = times[warmup:]
    amortised = map_every is not None or config.endswith('@')
    res = dict(config=config, width=width, memory=peak - base, time=statistics.mean(timed) if amortised else statistics.median(timed))
    if fast:
        from layerkd_nb.maps import get_method
        n, kw, _ = _method_of(name)
        res['channels_last'] = fast_channels_last(get_method(n, **_method_kwargs(n, kw)) if n in GOALS else None, device)
    if count and fast: res['fast_map_jsd'] = fast_map_error(name, width, bs, device)
    elif count:
        res['flops'] = step_flops(step, map_every or 1)
        res['passes'], res['implemented'] = floor_passes(name, width, bs, device)
        res['map_jsd'] = map_error(name, width, bs, device)
    print(json.dumps(res))

def profile(config, width, bs, device, rows=15, fast=False):
    "Top ops (self time) of one step of `config` (`fast`: on the fast path)"
    from torch.profiler import profile as torch_profile, ProfilerActivity
    step = _setup(config, width, bs, device, fast=fast); step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith('cuda') else [])
    with torch_profile(activities=activities) as prof: step()
    key = 'self_cuda_time_total' if device.startswith('cuda') else 'self_cpu_time_total'
    from layerkd_nb.maps import get_method
    name, kw, _ = _method_of(config)
    cl = fast and fast_channels_last(get_method(name, **_method_kwargs(name, kw)) if name in GOALS else None, device)
    print(f"## {config}, width {width}, batch {bs}, {device}{(', bf16 + ' + ('channels-last' if cl else 'NCHW')) if fast else ''}\n")
    phases = sorted((e for e in prof.key_averages() if e.key[:2] in ('1 ', '2 ', '3 ', '4 ')), key=lambda e: e.key)
    total = sum(e.cpu_time_total for e in phases)
    print('| phase | ms | share |\n|---|---|---|')
    for e in phases: print(f"| {e.key[2:]} | {e.cpu_time_total/1e3:.0f} | {e.cpu_time_total/total:.0%} |")
    print()
    print(prof.key_averages().table(sort_by=key, row_limit=rows))

def _run_worker(config, width, bs, warmup, steps, device, count=True, cpu_time=False, fast=False):
    out = subprocess.run([sys.executable, __file__, '--worker', config, '--widths', str(width), '--bs', str(bs), '--warmup', str(warmup),
                          '--steps', str(steps), '--device', device, '--threads', str(torch.get_num_threads())]
                         + ([] if count else ['--no-count']) + (['--cpu-time'] if cpu_time else [])
                         + (['--precision', 'bf16', '--channels-last', CHANNELS_LAST] if fast else []), capture_output=True, text=True)
    if out.returncode: sys.exit(f"{config} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])

def ratios(res:dict)->dict:
    "Per configuration of one width's results (the first, `ce`, the unit): time, FLOP, floor and memory ratios, map JSD"
    ce = next(iter(res.values()))
    ce_floor = sum(ce['passes'].values())
    def floor(config, r):   # `method@k`: maps on one step in k, the others plain steps
        k = _split_config(config)[1] or 1
        return (sum(r['passes'].values()) + (k - 1) * ce_floor) / k
    return {c: dict(time_ratio=r['time'] / ce['time'], flop_ratio=r['flops'] / ce['flops'], floor_ratio=floor(c, r) / ce_floor,
                    memory_ratio=r['memory'] / ce['memory'], map_jsd=r['map_jsd']) for c, r in res.items()}

def _fast_goal(config:str, width:int)->float:
    "The fast path's speed-up goal of `config` at `width` (None: none)"
    base = config.split('@')[0].split(':')[0]
    return FAST_GOALS_AT.get((base, width), FAST_GOALS.get(base))

def run_all(widths, bs, warmup, steps, device, repeats=1, configs=CONFIGS, json_path=None, passes=False, auto_profile=False,
            cpu_time=False, fast=False):
    "Run each configuration in its own process (`repeats` interleaved rounds) and print the table of ratios to `ce` (`fast`: and the fast path's table)"
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name()})" if device.startswith('cuda') else f", {torch.get_num_threads()} threads")
          + f", batch {bs}, {warmup} warm-up + {steps} timed steps (median), best of {repeats} rounds"
          + (", process CPU time" if cpu_time else ", wall time") + "; "
          + f"load average before: {os.getloadavg()[0]:.2f}\n")
    rate = matmul_rate() if fast and device == 'cpu' else None
    if rate: print(f"bf16 2048x2048 matmul: {rate:.0f} GFLOP/s, float32: {matmul_rate(torch.float32):.0f} GFLOP/s ({torch.get_num_threads()} threads)\n")
    print("| width | method | step (s) | time / CE | FLOPs / CE | floor / CE | time / floor | goal | peak extra memory (MiB) | memory / CE | map JSD |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    results, everything, fast_res = {}, {}, {}
    for width in widths:
        rounds, fast_rounds = [], []
        for i in range(repeats):   # float32 and fast path interleaved, configuration by configuration
            rounds.append({}); fast_rounds.append({})
            for c in configs:
                rounds[-1][c] = _run_worker(c, width, bs, warmup, steps, device, i == 0, cpu_time)
                if fast: fast_rounds[-1][c] = _run_worker(c, width, bs, warmup, steps, device, i == 0, cpu_time, fast=True)
        res = {c: dict(min((r[c] for r in rounds), key=lambda o: o['time']), **{k: rounds[0][c][k] for k in ('flops', 'passes', 'implemented', 'map_jsd')})
               for c in configs}
        results[width], everything[width] = ratios(res), res
        if fast: fast_res[width] = {c: dict(min((r[c] for r in fast_rounds), key=lambda o: o['time']), fast_map_jsd=fast_rounds[0][c]['fast_map_jsd'],
                                    channels_last=fast_rounds[0][c]['channels_last'])
                                    for c in configs}
        for config, q in results[width].items():
            name, k = _split_config(config)
            base = name.split(':')[0]
            goal = ('<= 3x (amortised)' if base == 'hessian' and (k or 1) > 1 else
                    f"<= {GOALS[base]}x" if base in GOALS and not name.endswith(':measure') else '')
            print(f"| {width} | {config} | {res[config]['time']:.3f} | {q['time_ratio']:.2f} | {q['flop_ratio']:.2f} | {q['floor_ratio']:.2f} | "
                  f"{q['time_ratio'] / q['floor_ratio']:.2f} | {goal} | {res[config]['memory']/2**20:.0f} | {q['memory_ratio']:.2f} | "
                  f"{q['map_jsd']:.2g} |", flush=True)
    if fast:
        print(f"\n## The fast path: bf16 autocast (memory format: {CHANNELS_LAST}) against float32 NCHW, same run\n")
        print("| width | method | format | float32 step (s) | fast step (s) | speed-up | goal | met | fast map JSD (nats) | bf16 ideal (s) | fast / ideal |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for width in widths:
            for config in configs:
                r, f = everything[width][config], fast_res[width][config]
                speedup, goal = r['time'] / f['time'], _fast_goal(config, width)
                ideal = r['flops'] / (rate * 1e9) if rate else float('nan')   # the step's FLOPs at the bf16 matmul rate
                results[width][config].update(speedup=speedup, channels_last=f['channels_last'], fast_map_jsd=f['fast_map_jsd'], step_s=r['time'], fast_step_s=f['time'],
                                              bf16_ideal_s=ideal, fast_memory_ratio=f['memory'] / r['memory'])
                print(f"| {width} | {config} | {'channels-last' if f['channels_last'] else 'NCHW'} | {r['time']:.3f} | {f['time']:.3f} | {speedup:.2f}x | {'' if goal is None else f'>= {goal}x'} | "
                      f"{'' if goal is None else 'yes' if speedup >= goal else 'no'} | {f['fast_map_jsd']:.2g} | {ideal:.3f} | "
                      f"{f['time'] / ideal:.1f} |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    if passes:
        for width, res in everything.items():
            print(f"\n## Passes, width {width} (GFLOP; floor passes, then the implementation's own products where they differ)\n")
            for config, r in res.items():
                print(f"- {config}: step {r['flops']/1e9:.2f}, floor {sum(r['passes'].values())/1e9:.2f} = "
                      + ' + '.join(f"{k} {v/1e9:.2f}" for k, v in r['passes'].items())
                      + ''.join(f"; {k}: {v/1e9:.2f}" for k, v in r['implemented'].items()))
            print('\n' + '\n'.join(f"  {k}: {v}" for k, v in PASSES.items()))
    if json_path:
        Path(json_path).write_text(json.dumps(results[widths[0]] if len(widths) == 1 else {str(w): r for w, r in results.items()}, indent=1))
        print(f"\nwrote {json_path}")
    if auto_profile:
        for width in widths:
            for config, q in results[width].items():
                if q['time_ratio'] > 1.3 * q['floor_ratio']:
                    print(f"\n{config} at width {width}: time {q['time_ratio'] / q['floor_ratio']:.2f}x its floor\n"); profile(config, width, bs, device)
                if fast and q['speedup'] < (_fast_goal(config, width) or 0):
                    print(f"\n{config} at width {width}: fast path {q['speedup']:.2f}x, under its goal\n"); profile(config, width, bs, device, fast=True)
    return results

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--widths', type=int, nargs='+', default=[64, 16])
    parser.add_argument('--bs', type=int, default=128)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--worker', help='internal: run one configuration')
    parser.add_argument('--no-count', action='store_true', help='internal: the worker times only (no FLOPs, floor, map error)')
    parser.add_argument('--map-every', type=int, nargs='+', help='amortised cost of maps on every k-th step, for these k')
    parser.add_argument('--profile', nargs='?', const=True, help='print the top ops of one step of this configuration; '
                        'with no configuration, after the table, of every configuration whose time is > 1.3x its floor')
    parser.add_argument('--formulations', action='store_true', help='also the map formulations (targets, channel maps, measuring only)')
    parser.add_argument('--configs', nargs='+', help='only these configurations (ce first), e.g. ce jacobian:logits hessian@4')
    parser.add_argument('--json', help='write {config: {time_ratio, flop_ratio, floor_ratio, memory_ratio, map_jsd}} to this file')
    parser.add_argument('--passes', action='store_true', help="print each configuration's floor passes (GFLOP)")
    parser.add_argument('--cpu-time', action='store_true', help="time steps in process CPU time (CPU only): robust to other processes "
                        "on the cores, with `--threads 1` (no threads waiting on each other)")
    parser.add_argument('--threads', type=int, help='torch intra-op threads (default: torch\'s)')
    parser.add_argument('--precision', choices=('fp32', 'bf16'), default='fp32', help="bf16: also time every configuration on the "
                        "fast path (bf16 autocast, with --channels-last), same run: speed-up over float32 and the maps' JSD to float32's")
    parser.add_argument('--channels-last', nargs='?', const='default', choices=('default', 'all'),
                        help="with --precision bf16, the fast path's memory format: 'default' (no value) as the library chooses per method "
                        "(`channels_last_default`: channels-last except derivative maps on the CPU), 'all' channels-last for every method")
    a = parser.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    fast = a.precision == 'bf16'
    if fast and not a.channels_last: parser.error('the fast path is bf16 in its memory format: pass --precision bf16 --channels-last [all]')
    if a.channels_last: CHANNELS_LAST = a.channels_last
    table = dict(json_path=a.json, passes=a.passes, auto_profile=a.profile is True, cpu_time=a.cpu_time, fast=fast)
    if a.worker: worker(a.worker, a.widths[0], a.bs, a.warmup, a.steps, a.device, not a.no_count, a.cpu_time, fast)
    elif isinstance(a.profile, str): profile(a.profile, a.widths[0], a.bs, a.device, fast=fast)
    elif a.configs: run_all(a.widths, a.bs, a.warmup, a.steps, a.device, a.repeats, tuple(a.configs), **table)
    elif a.map_every:
        configs = ('ce@',) + tuple(f'{m}@{k}' for m in GOALS for k in a.map_every)   # 'ce@': CE timed as a mean too
        run_all(a.widths, a.bs, a.warmup, a.steps, a.device, a.repeats, configs, **table)
    else: run_all(a.widths, a.bs, a.warmup, a.steps, a.device, a.repeats,
                  tuple(dict.fromkeys(CONFIGS + (FORMULATIONS if a.formulations else ()))), **table)
