"Callbacks: schedules, checkpoint and resume, distributed training, mixed precision, the callbacks' options, `MapDistillation`, `LayerwiseLR`, `distill_learner`."
# The modules' public names, re-exported on first use: `options` imports no torch, so that the `layerkd` command checks
# the callbacks' options at once.
from .. import lazy_exports
__getattr__, __dir__ = lazy_exports(__name__, ('schedule', 'checkpoint', 'distributed', 'precision', 'options', 'distill', 'layerwise', 'learner'))
