from bss_runtime.migrations import run_env
from customers.adapters.tables import metadata

run_env(metadata)
