"""accord: one place where preference data is born, checked and used.

>>> import accord
>>> accord.__version__
'0.1.0'
"""

__version__ = "0.1.0"
