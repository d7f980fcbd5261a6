"Callbacks: the multi-step schedule, resumable state, distributed training, `MapDistillation`, `LayerwiseLR` and `distill_learner`."
from . import schedule, checkpoint, distributed, distill, layerwise, learner
from .schedule import *
from .checkpoint import *
from .distributed import *
from .distill import *
from .layerwise import *
from .learner import *
__all__ = [name for module in (schedule, checkpoint, distributed, distill, layerwise, learner) for name in module.__all__]
