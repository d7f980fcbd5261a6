"Data: in-memory image arrays and their fast path, image folders, CIFAR, COCO, digits, and what kind a dataset is."
from . import core, folders, cifar, coco, kinds
from .core import *
from .folders import *
from .cifar import *
from .coco import *
from .kinds import *
__all__ = [name for module in (core, folders, cifar, coco, kinds) for name in module.__all__]
