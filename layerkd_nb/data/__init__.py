"Data: in-memory image arrays and their fast path, image folders, CIFAR, COCO, digits, and what kind a dataset is."
# The modules' public names, re-exported on first use: `kinds` imports no torch, so that the `layerkd` command (which
# imports `layerkd_nb.experiments.config`, and with it `layerkd_nb.data.kinds`) recognises and checks a data folder at once.
from .. import lazy_exports
__getattr__, __dir__ = lazy_exports(__name__, ('core', 'folders', 'cifar', 'coco', 'kinds'))
