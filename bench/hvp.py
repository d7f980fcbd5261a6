"""The teacher's Hessian-vector product at its 4 crucial weights: reverse over reverse (`weight_hvp`, as the library computes it)
vs forward over reverse (`torch.func.jvp` of `torch.func.grad`, Pearlmutter's R-op), on the same CIFAR ResNet18, batch and signs z.

Prints each one's FLOPs (`FlopCounterMode`: forward + gradient + HVP), its time (mean of 2 after a warm-up) and their
largest relative difference (the same product: they must agree to float32 precision).

    python bench/hvp.py --width 16 --bs 128
"""
import argparse, os, time, torch, torch.nn.functional as F
from torch.func import functional_call, grad, jvp
from torch.utils.flop_counter import FlopCounterMode
from layerkd_nb.models import cifar_resnet10, cifar_resnet18, match_layers
from layerkd_nb.maps import rademacher_like, weight_hvp, autograd_batchnorm
p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
p.add_argument('--width', type=int, default=16); p.add_argument('--bs', type=int, default=128)
a = p.parse_args()
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, width {a.width}, batch {a.bs}; load average {os.getloadavg()[0]:.2f}")
torch.manual_seed(0)
W, B = a.width, a.bs
student, teacher = cifar_resnet10(10, W), cifar_resnet18(10, W).eval().requires_grad_(False)
x, y = torch.randn(B, 3, 32, 32), torch.randint(0, 10, (B,))
pairs = match_layers(student, teacher)
names = [p.teacher_name + '.weight' for p in pairs]
weights = [teacher.get_parameter(n) for n in names]
z = rademacher_like(weights)
def rr():
    with autograd_batchnorm(teacher):
        for w in weights: w.requires_grad_(True)
        loss = F.cross_entropy(teacher(x), y)
        h = weight_hvp(loss, weights, z)
        for w in weights: w.requires_grad_(False)
        return h
def fr():
    def f(ws): return F.cross_entropy(functional_call(teacher, dict(zip(names, ws)), (x,)), y)
    return jvp(grad(f), (tuple(w.detach() for w in weights),), (tuple(z),))[1]
for name, fn in (('reverse over reverse', rr), ('forward over reverse', fr)):
    with FlopCounterMode(display=False) as c: h = fn()
    fn(); t = time.perf_counter(); fn(); fn(); t = (time.perf_counter() - t) / 2
    print(f"{name}: {c.get_total_flops()/1e9:.2f} GFLOP (forward + gradient + HVP), {t:.2f} s")
    if name.startswith('reverse'): ref = h
    else: print('max rel. difference', max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(h, ref)))
