"""Fuzzing of the service. `fuzz.parsers` runs coverage-guided fuzzing (atheris) of the layer's
parsers that read raw attacker input; `fuzz.targets` holds one `one_input(data: bytes) -> None`
per parser, plain functions that atheris and the pytest replay (`tests/unit/fuzz`) both call.
"""
