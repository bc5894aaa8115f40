"""prefect.yaml declares the same deployments, schedules and entrypoints that `presswatch serve` offers."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

from flows.deployments import DEPLOYMENT_NAMES, build_deployments
from presswatch.settings import load_settings

REPO = Path(__file__).resolve().parents[2]


def test_prefect_yaml_declares_every_served_deployment_with_a_real_entrypoint() -> None:
    declared = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    assert [d["name"] for d in declared] == list(DEPLOYMENT_NAMES)
    served = {d.name: d for d in build_deployments(load_settings())}
    assert set(served) == set(DEPLOYMENT_NAMES)
    for deployment in declared:
        module_path, function = deployment["entrypoint"].split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, function)
        assert flow.name == served[deployment["name"]].flow_name
        assert deployment["work_pool"]["name"] == "presswatch"
    by_name = {d["name"]: d for d in declared}
    # On a fleet the cycle is the scheduled monitoring; monitor-feeds' schedule is off so no feed is read twice.
    assert by_name["monitor-feeds"]["schedules"] == [{"interval": 900, "active": False}]
    assert by_name["monitor-cycle"]["schedules"] == [{"interval": 900}]
    assert by_name["monitor-cycle"]["parameters"]["only_due"] is True
    for name in ("monitor-feeds", "monitor-cycle"):
        assert by_name[name]["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert "schedules" not in by_name["monitor-shard"]  # shards run only when a cycle starts them
    assert by_name["spike-alerts"]["schedules"][0]["cron"] == load_settings().alerts_cron
