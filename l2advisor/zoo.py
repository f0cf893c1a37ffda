"""Small model builders for model files (public; lives in `l2advisor.modelfile`)."""

from l2advisor.modelfile.zoo import *  # noqa: F403 - the public names, listed in __all__
from l2advisor.modelfile.zoo import __all__  # noqa: F401
