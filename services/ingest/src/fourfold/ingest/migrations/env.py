from fourfold.db.migrations import run_env
from fourfold.ingest.models import metadata

run_env(metadata)
