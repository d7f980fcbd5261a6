"Maps: weight derivatives, map methods and attention maps, Jacobian and Hessian maps, input-Jacobian maps."
from . import weight_derivatives, core, derivative_maps, input_jacobian
from .weight_derivatives import *
from .core import *
from .derivative_maps import *
from .input_jacobian import *
__all__ = [name for module in (weight_derivatives, core, derivative_maps, input_jacobian) for name in module.__all__]
