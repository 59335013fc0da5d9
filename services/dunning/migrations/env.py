from bss_runtime.migrations import run_env
from dunning.adapters.tables import metadata

run_env(metadata)
