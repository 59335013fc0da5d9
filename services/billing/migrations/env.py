from billing.adapters.tables import metadata
from bss_runtime.migrations import run_env

run_env(metadata)
