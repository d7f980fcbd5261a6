"""The callbacks' fixed cost per training step: `MapDistillation` + `LayerwiseLR` on a model so small that compute is negligible.

Three fastai `Learner`s train the same tiny student (CIFAR ResNet10 of width `--width`, teacher ResNet18 of the same
width) on digits at 16 px (`tiny_dls`), batch `--bs`, and a timer callback (first in `before_batch`, last in
`after_batch`) records each training step's CPU time in the training thread (`time.thread_time`, torch on one thread:
the work of the step, which other processes on shared cores barely inflate, and not the batch thread's):

- `plain`: the student alone, fastai's default callbacks only: the unit;
- `inline`: the same arithmetic as the distillation step without our callbacks' bookkeeping: one minimal callback
  that, around the student's forward, captures the stage outputs and in `after_loss` adds
  `lambda * sum_j JSD(student map_j, teacher map_j)` (the map method's own `capture`, `student_teacher_maps` and
  `layer_divergences`, as `MapDistillation` calls them);
- `callbacks`: `MapDistillation(teacher, method)` + `LayerwiseLR(every=1)`.

The callbacks' fixed cost is `(callbacks - inline) / plain`: what the callbacks add beyond the arithmetic they must
do, as a fraction of a plain fastai step (goal <= 10 %). The three run interleaved, `--rounds` times, one epoch each
(the first `--warmup` steps of each epoch left out); per learner the median step over all rounds.

    python bench/overhead.py                     # attention, width 2, batch 8
    python bench/overhead.py --method jacobian --weight 1
"""
import argparse, os, statistics, sys, time
import torch, torch.nn.functional as F
from fastai.learner import Learner
from fastai.callback.core import Callback
from layerkd_nb.test_utils import tiny_dls, student_teacher
from layerkd_nb.callbacks import MapDistillation, LayerwiseLR
from layerkd_nb.maps import get_method
from layerkd_nb.models import match_layers
from layerkd_nb.jsd import layer_divergences

class StepStart(Callback):
    "Starts the clock before every other callback's `before_batch`"
    order = -1000
    def before_fit(self): self.times = []
    def before_batch(self): self.start = time.thread_time()

class StepEnd(Callback):
    "Stops it after every other callback's `after_batch`"
    order = 1000
    def __init__(self, start): self.clock = start
    def after_batch(self):
        if self.training: self.clock.times.append(time.thread_time() - self.clock.start)

class InlineMaps(Callback):
    "The distillation step's arithmetic with no bookkeeping: capture, maps, JSD, added to the loss"
    order = 20
    def __init__(self, teacher, method, weight): self.teacher, self.method, self.weight = teacher.eval().requires_grad_(False), get_method(method), weight
    def before_fit(self):
        self.method.prepare(self.learn.model); self.pairs = match_layers(self.learn.model, self.teacher)
    def before_batch(self):
        if self.training: self._capture = self.method.capture(self.learn.model, self.pairs); self._captured = self._capture.__enter__()
    def after_loss(self):
        if not self.training: return
        s, t = self.method.student_teacher_maps(self.learn.model, self.teacher, self.pairs, self.xb, self.yb, self.learn.loss_func,
                                                pred=self.pred, loss=self.learn.loss_grad, captured=self._captured)
        self.learn.loss_grad = self.learn.loss_grad + self.weight * layer_divergences(s, t).sum()
    def after_batch(self):
        if self.training: self._capture.__exit__(None, None, None)

def learner(kind, method, weight, width, bs):
    student, teacher = student_teacher(width=width)
    cbs = dict(plain=[], inline=[InlineMaps(teacher, method, weight)],
               callbacks=[MapDistillation(teacher, method, weight=weight), LayerwiseLR(every=1)])[kind]
    start = StepStart()
    return Learner(tiny_dls(bs=bs), student, cbs=[*cbs, start, StepEnd(start)]), start

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--method', default='attention'); p.add_argument('--weight', type=float, default=1.)
    p.add_argument('--width', type=int, default=2); p.add_argument('--bs', type=int, default=8)
    p.add_argument('--rounds', type=int, default=3); p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--threads', type=int, default=1, help='torch threads (1: a small step is Python-bound; fewer threads, less noise)')
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); method {a.method}, weight {a.weight:g}, width {a.width}, "
          f"batch {a.bs}; load average before: {os.getloadavg()[0]:.2f}")
    kinds = ('plain', 'inline', 'callbacks')
    times, rounds = {k: [] for k in kinds}, []
    for r in range(a.rounds):
        rounds.append({})
        for k in kinds[r % 3:] + kinds[:r % 3]:   # each learner first in one round of three
            learn, clock = learner(k, a.method, a.weight, a.width, a.bs)
            with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2)
            times[k] += clock.times[a.warmup:]
            rounds[-1][k] = statistics.median(clock.times[a.warmup:])
    print('per round, median step (ms): ' + '; '.join(', '.join(f"{k} {v*1e3:.2f}" for k, v in r.items()) for r in rounds))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n| learner | step (ms CPU, median of {len(times['plain'])}) | / plain |\n|---|---|---|")
    for k in kinds: print(f"| {k} | {med[k]*1e3:.2f} | {med[k]/med['plain']:.2f} |")
    print(f"\nthe callbacks' fixed cost: (callbacks - inline) / plain = {(med['callbacks'] - med['inline']) / med['plain']:+.1%} "
          f"of a plain fastai step (goal <= 10 %); load average after: {os.getloadavg()[0]:.2f}")

if __name__ == '__main__': sys.exit(main())
