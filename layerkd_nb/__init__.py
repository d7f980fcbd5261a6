__version__ = "0.0.1"

import warnings
# fastai 2.8 decorates some functions with `torch.jit.script`, which recent torch marks deprecated at import time.
warnings.filterwarnings('ignore', message=r'`torch.jit.script` is deprecated', category=FutureWarning)
