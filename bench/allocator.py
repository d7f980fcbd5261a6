"""Resident memory of a fastai fit over epochs under glibc's allocator and under jemalloc, in one run.

A long CPU fit (the regime's teacher: 40 epochs) grew by about 250 MB a minute under glibc and was killed by the OOM
killer. This script shows the growth on a small fit and that jemalloc removes it. Each allocator gets a fresh
subprocess: a CIFAR ResNet18 of `--width`, fastai's `Learner` (SGD, cross-entropy), `--epochs` epochs of `--batches`
synthetic batches of 128 32x32 images, one thread. After each epoch: the process's resident set (VmRSS) and the number
of tensors Python holds (constant if nothing in Python accumulates).

    python bench/allocator.py                       # glibc, then jemalloc (Debian: apt-get install libjemalloc2)
    python bench/allocator.py --epochs 2 --batches 10   # seconds: checks that it runs
"""
import argparse, gc, os, subprocess, sys
from pathlib import Path

JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2'

def worker(width:int, epochs:int, batches:int):
    import torch
    from fastai.vision.all import DataLoaders, Learner, Callback, CrossEntropyLossFlat, SGD
    from layerkd_nb.models import cifar_resnet18
    torch.set_num_threads(1); torch.manual_seed(0)
    def rss_mb(): return int(Path('/proc/self/status').read_text().split('VmRSS:')[1].split()[0]) // 1024
    n = 128 * batches
    x, y = torch.randn(n, 3, 32, 32), torch.randint(0, 10, (n,))
    dls = DataLoaders.from_dsets(list(zip(x, y)), list(zip(x[:512], y[:512])), bs=128, device='cpu')
    class Memory(Callback):
        order = 99
        def after_epoch(self):
            tensors = sum(torch.is_tensor(o) for o in gc.get_objects())
            print(f'epoch {self.epoch + 1}: {rss_mb()} MB resident, {tensors} tensors', flush=True)
    learn = Learner(dls, cifar_resnet18(10, width), loss_func=CrossEntropyLossFlat(), opt_func=SGD, lr=0.05, cbs=Memory())
    with learn.no_bar(), learn.no_logging(): learn.fit(epochs)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--width', type=int, default=8); p.add_argument('--epochs', type=int, default=8)
    p.add_argument('--batches', type=int, default=100, help='batches of 128 per epoch')
    p.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker: return worker(a.width, a.epochs, a.batches)
    print(f'CIFAR ResNet18 width {a.width}, {a.epochs} epochs of {a.batches} batches of 128, one thread; '
          f'load average {os.getloadavg()[0]:.1f}', flush=True)
    for name, preload in (('glibc', None), ('jemalloc', JEMALLOC)):
        if preload and not Path(preload).exists(): print(f'{name}: {preload} not found, skipped'); continue
        env = {**os.environ, 'OMP_NUM_THREADS': '1'} | ({'LD_PRELOAD': preload} if preload else {})
        print(f'== {name}', flush=True)
        subprocess.run([sys.executable, __file__, '--worker', '--width', str(a.width), '--epochs', str(a.epochs),
                        '--batches', str(a.batches)], env=env, check=True)

if __name__ == '__main__': main()
