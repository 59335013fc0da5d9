from bss_runtime.migrations import run_env
from radius_ingest.adapters.tables import metadata

run_env(metadata)
