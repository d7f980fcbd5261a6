"Models: CIFAR and ImageNet ResNets, their stages and crucial layers, and the layers of any CNN."
from . import resnets, layers
from .resnets import *
from .layers import *
__all__ = [name for module in (resnets, layers) for name in module.__all__]
