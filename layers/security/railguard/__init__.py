"""Railguard's security layer: the logic and data access that every function shares.

Dependencies point one way: functions -> domain modules -> security primitives -> store.
"""

__version__ = "0.1.0"
