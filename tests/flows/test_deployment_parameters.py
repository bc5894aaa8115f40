"""Each deployment's parameter form is pinned: a change to a flow's parameters must be a deliberate one.

Regenerate after an intended change with:
    python -c "from tests.flows.test_deployment_parameters import write; write()"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prefect.exceptions import ParameterTypeError
from pydantic import SecretStr

from flows.deployments import build_deployments
from presswatch.settings import load_settings

SNAPSHOT = Path(__file__).with_name("deployment_parameters.json")


def schemas() -> dict[str, Any]:
    """Every deployment's parameter schema, as the Prefect UI receives it."""
    return {d.name: d._parameter_openapi_schema.model_dump() for d in build_deployments(load_settings())}


def write() -> None:
    """Rewrite the snapshot from the current flows."""
    SNAPSHOT.write_text(json.dumps(schemas(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def test_parameter_schemas_match_the_pinned_snapshot() -> None:
    assert schemas() == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def test_every_parameter_has_a_description_and_numbers_have_bounds() -> None:
    for deployment, schema in schemas().items():
        for name, field in schema["properties"].items():
            assert field.get("description"), f"{deployment}.{name} has no description"
            numeric = [field] + field.get("anyOf", [])
            for part in numeric:
                if part.get("type") == "integer":
                    assert "minimum" in part and "maximum" in part, f"{deployment}.{name} is unbounded"


def test_invalid_input_is_refused_before_the_run_starts() -> None:
    from flows.alerts import spike_alerts

    with pytest.raises(ParameterTypeError):
        spike_alerts(days=0, database_url=SecretStr("sqlite:///unused.db"))
