"""The Python API: `probe`, `recommend` and `report` for notebooks and scripts, with the
same engine and run directories as the command line (`l2advisor probe|recommend|report`)."""

from l2advisor.api.advice import Recommendation, recommend, report
from l2advisor.api.probes import ProbeResults, probe
from l2advisor.api.progress import ProgressEvent

__all__ = ["ProbeResults", "ProgressEvent", "Recommendation", "probe", "recommend", "report"]
