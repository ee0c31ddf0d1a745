"""The authorizer runs before every protected request, so its cold start is on every new
instance's first request: it must not load what only other functions need. `make bench`
measures the import's time; this says what must stay out, whatever that time is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Heavy, and needed only by the functions behind the authorizer: request models (pydantic), the
# HTTP resolver and logger (Powertools, the logger loaded on a first refusal only), boto3's
# resource layer (the clients are botocore's).
KEPT_OUT = ("pydantic", "aws_lambda_powertools", "boto3")


def test_importing_the_authorizer_loads_no_pydantic_powertools_or_boto3() -> None:
    # Given a fresh interpreter with only the layer on its path, as Lambda's
    program = "import json, sys; import app; print(json.dumps(sorted(sys.modules)))"
    # When it imports the authorizer's handler module
    completed = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", program],
        cwd=ROOT / "functions" / "authorizer",
        env={"PYTHONPATH": str(ROOT / "layers" / "security")},
        capture_output=True,
        check=True,
    )
    loaded = json.loads(completed.stdout)
    # Then none of them was loaded
    assert [name for name in loaded if name.split(".")[0] in KEPT_OUT] == []
