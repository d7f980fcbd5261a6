"""Side by side with fasterai: attention distillation and Hinton KD, ours and fasterai's `KnowledgeDistillationCallback`.

Same data, same student and teacher, same schedule and seed: the `cifar10-screen` setting (ResNet10 width 16 students
on a fixed 5,000-image subset of real CIFAR-10, the cached ResNet18 teacher of results/cifar10-teacher trained on all
50,000 images, SGD with momentum 0.9 at lr 0.05 with x0.1 at 50 % and 75 % of the epochs, weight decay 5e-4, batch
128, the 10,000 test images: the `cifar10-screen` setting). Each library with
its own defaults: ours `MapDistillation(teacher, 'attention')` (lambda 10, JSD of attention maps at the 4 stage
outputs) and `method='kd'` (T 4, weight 1, added to the cross-entropy); fasterai's `KnowledgeDistillationCallback`
with `loss=Attention` at the same 4 stage outputs and `loss=SoftTarget` (T 5), its default weight 0.5 (the loss is
`lerp(CE, distillation loss, 0.5)`). Seconds per epoch are the fit's wall time over its epochs (validation included),
all in one process, one after another; ratios are to the student alone of the same run.

    pip install --no-deps fasterai==0.4.1            # bench-only
    OMP_NUM_THREADS=2 python bench/peers.py --data /tmp/kd_cifar/cifar10 --epochs 8
"""
import argparse, json, os, time
from pathlib import Path
import torch
from fastai.vision.all import Learner, accuracy, set_seed, SGD, CrossEntropyLossFlat
from layerkd_nb.data import cifar_dls, subset_dls
from layerkd_nb.models import cifar_resnet10, cifar_resnet18, load_checkpoint
from functools import partial
from layerkd_nb.callbacks import MapDistillation

def teacher_from(folder:Path):
    ckpt = next(Path(folder).glob('checkpoints/teacher-*/final.pth'))
    return load_checkpoint(cifar_resnet18(10, 16), ckpt).eval().requires_grad_(False)

def run(name, dls, teacher, epochs, seed=0):
    "Accuracy and seconds per epoch of one student"
    from fasterai.distill.all import KnowledgeDistillationCallback, Attention, SoftTarget
    set_seed(seed, reproducible=True)
    for i, dl in enumerate(dls.loaders): dl.rng.seed(seed*1000 + i)
    stages = ['layer1', 'layer2', 'layer3', 'layer4']
    cbs = {'student alone': [],
           'layerkd attention': [MapDistillation(teacher, 'attention')],
           'fasterai attention': [KnowledgeDistillationCallback(teacher, Attention, stages, stages)],
           'layerkd Hinton KD': [MapDistillation(teacher, None, kd_weight=1.)],
           'fasterai SoftTarget': [KnowledgeDistillationCallback(teacher, SoftTarget)]}[name]
    learn = Learner(dls, cifar_resnet10(10, 16), loss_func=CrossEntropyLossFlat(), metrics=accuracy, opt_func=partial(SGD, mom=0.9), wd=5e-4, cbs=cbs)
    import layerkd_nb.callbacks  # noqa: F401  (adds Learner.fit_multistep)
    start = time.perf_counter()
    with learn.no_bar(), learn.no_logging():
        learn.fit_multistep(epochs, 0.05, milestones=[epochs//2, epochs*3//4], gamma=0.1)
    seconds = (time.perf_counter() - start) / epochs
    return dict(run=name, accuracy=100*learn.recorder.values[-1][learn.recorder.metric_names.index('accuracy')-1], seconds=seconds)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default='/tmp/kd_cifar/cifar10'); p.add_argument('--epochs', type=int, default=8)
    p.add_argument('--n-train', type=int, default=5000); p.add_argument('--teacher', default='results/cifar10-teacher')
    a = p.parse_args()
    dls = subset_dls(cifar_dls(a.data, bs=128), n_train=a.n_train)
    teacher = teacher_from(a.teacher).to(dls.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average before {os.getloadavg()[0]:.2f}; "
          f"{a.n_train} training images, {a.epochs} epochs, seed 0\n")
    rows = [run(n, dls, teacher, a.epochs) for n in ('student alone', 'layerkd attention', 'fasterai attention',
                                                      'layerkd Hinton KD', 'fasterai SoftTarget')]
    base = rows[0]['seconds']
    print("| run | accuracy % | s / epoch | time / student alone |\n|---|---|---|---|")
    for r in rows: print(f"| {r['run']} | {r['accuracy']:.2f} | {r['seconds']:.1f} | {r['seconds']/base:.2f} |")
    print(f"\nload average after {os.getloadavg()[0]:.2f}")
