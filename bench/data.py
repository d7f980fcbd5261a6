"""Loading + augmenting one CIFAR-10 training epoch: fastai's per-item pipeline vs layerkd_nb's fast path.

usage: python bench/data.py /tmp/cifar/cifar10 [--bs 256] [--workers 2] [--batches 0] [--threads 0]

The folder must have the fastai/CIFAR layout (train/<class>/*.jpg, test/<class>/*.jpg).
Both paths do the same augmentation (zero-pad 4 px + random 32x32 crop, random horizontal flip, per-channel
normalisation) at the same batch size:
  (a) fastai `ImageDataLoaders.from_folder`, per item: CropPad(40) + RandomCrop(32) + FlipItem on each PIL image in
      `--workers` processes, then IntToFloatTensor + Normalize on the batch;
  (b) `cifar_dls` (fast path): the decoded uint8 tensor (cache built first into a fresh folder, timed separately),
      whole-batch `cifar_augment` + normalisation, batches made in `ArrayDL`'s background thread (its own intra-op
      threads, default max(1, cpus // 8));
  (c) the same fast path with `prefetch=0`: batches made in the caller's thread, with the caller's torch threads.
`--batches N` times only the first N batches of each (0: the full epoch); `--threads N` sets torch's intra-op threads
in the main process for both (0: torch's default).
"""
import argparse, tempfile, time
from itertools import islice
import torch
from layerkd_nb.data import cifar_dls, cifar10_stats, folder_arrays   # first: quiets fastai's torch.jit warning
from fastai.vision.all import (ImageDataLoaders, CropPad, RandomCrop, FlipItem, Normalize, PadMode, set_seed)

def time_epoch(dl, n_batches):
    "Images per second over one pass (or its first `n_batches`) of `dl`"
    n, t = 0, time.perf_counter()
    for x, y in islice(dl, n_batches or None): n += len(x)
    return n, time.perf_counter() - t

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('path'); p.add_argument('--bs', type=int, default=256)
    p.add_argument('--workers', type=int, default=2); p.add_argument('--batches', type=int, default=0)
    p.add_argument('--threads', type=int, default=0)
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    set_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, bs={a.bs}, fastai workers={a.workers}, "
          f"batches={'full epoch' if not a.batches else a.batches}")

    dls = ImageDataLoaders.from_folder(a.path, train='train', valid='test', bs=a.bs, num_workers=a.workers,
                                       item_tfms=[CropPad(40, pad_mode=PadMode.Zeros), RandomCrop(32), FlipItem(0.5)],
                                       batch_tfms=[Normalize.from_stats(*cifar10_stats, cuda=False)])
    n_a, t_a = time_epoch(dls.train, a.batches)
    x_a, _ = dls.one_batch()

    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        for split in ('train', 'test'): folder_arrays(a.path, split, cache_dir=cache)
        t_build = time.perf_counter() - t
        t = time.perf_counter()
        fast = cifar_dls(a.path, bs=a.bs, cache_dir=cache, device='cpu')
        t_load = time.perf_counter() - t
        n_b, t_b = time_epoch(fast.train, a.batches)
        n_c, t_c = time_epoch(fast.train.new(prefetch=0), a.batches)
        x_b, _ = fast.one_batch()
    assert x_a.shape == x_b.shape and x_a.dtype == x_b.dtype, (x_a.shape, x_b.shape)

    print(f"\nfast-path cache: decode 60k images + write {t_build:.1f} s; load from cache {t_load:.2f} s\n")
    print("| pipeline | images | seconds | images/s |")
    print("|---|---:|---:|---:|")
    print(f"| fastai per-item `from_folder` | {n_a} | {t_a:.1f} | {n_a/t_a:,.0f} |")
    print(f"| layerkd_nb fast path `cifar_dls` ({fast.train.num_threads} thread(s) in the batch thread) | {n_b} | {t_b:.2f} | {n_b/t_b:,.0f} |")
    print(f"| fast path, batches in the caller's thread ({torch.get_num_threads()} threads) | {n_c} | {t_c:.2f} | {n_c/t_c:,.0f} |")
    print(f"\nspeed-up of the fast path over fastai's per-item pipeline: {(n_b/t_b)/(n_a/t_a):.1f}x")

if __name__ == '__main__': main()
