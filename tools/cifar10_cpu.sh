#!/bin/sh
# The `cifar10-cpu` grid of nbs/62_cifar_cpu.ipynb in the background. Resumable: run this again after any
# interruption (finished runs are skipped, an unfinished one continues after its last finished epoch).
# Log: results/cifar10-cpu/checkpoints/run.log (git-ignored, with the checkpoints).
set -e
cd "$(dirname "$0")/.."
DATA=${DATA:-/tmp/kd_cifar/cifar10}   # a private copy (other benchmarks use /tmp/cifar)
if [ ! -d "$DATA/train" ]; then mkdir -p "$(dirname "$DATA")" && tar xzf ../shared/data/cifar10-jpg.tgz -C "$(dirname "$DATA")"; fi
mkdir -p results/cifar10-cpu/checkpoints
# one intra-op thread: the 2 cores are shared; two threads fighting for them was slower
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nohup .venv/bin/python -m layerkd_nb.experiments.cli --preset cifar10-cpu \
    --data "$DATA" --out results/cifar10-cpu --resume "$@" >> results/cifar10-cpu/checkpoints/run.log 2>&1 &
echo "started pid $! (log: results/cifar10-cpu/checkpoints/run.log)"
