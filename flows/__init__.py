"""Prefect flows, tasks, deployments and the `presswatch` command line: the only folder that knows every other."""
