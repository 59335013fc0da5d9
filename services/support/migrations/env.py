from bss_runtime.migrations import run_env
from support.adapters.tables import metadata

run_env(metadata)
