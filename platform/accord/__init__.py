"""accord: one place where preference data is born, checked and used.

>>> import accord
>>> accord.__version__
'0.1.0'
"""

from .library_logs import route_library_logs_to_stderr

__version__ = "0.1.0"

# Before any library that accord imports can attach a handler on stdout (see library_logs).
route_library_logs_to_stderr()
