"""A child process that runs the demo task's job on two Beam worker processes (a kill test's victim).

python job_child.py <warehouse> <ledger>
"""

import sys

import pyarrow as pa

from llm_jobs.inputs import write_prompt_inputs
from llm_jobs.job import run_llm_job
from storage.warehouse import Warehouse
from support.llm_job_support import PARTITION, Ledger, picks_task, review_rows
from support.multi_process import TWO_WORKER_PROCESSES

warehouse = Warehouse(sys.argv[1])
rows = pa.Table.from_pylist(review_rows(6))
inputs = write_prompt_inputs(warehouse, rows, "demo_picks", PARTITION, rows_per_shard=3)
run_llm_job(picks_task(), inputs, Ledger(sys.argv[2]), warehouse, PARTITION, TWO_WORKER_PROCESSES)
