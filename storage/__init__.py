"""Storage and publishing: the warehouse layout, atomic writes, locks, published versions and snapshots,
pruning, the DuckDB catalog and lineage. Imports only `schemas`; never Dagster."""
