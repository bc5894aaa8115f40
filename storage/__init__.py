"""SQL storage: models, engines and sessions, idempotent writes and the views users query. Imports no Prefect."""
